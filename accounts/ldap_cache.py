"""Short-lived memory of directory answers, in the shared cache (every node sees them).

Logins: every registry client process asks /service/token with Basic credentials, and
each directory login costs a connection, two binds and several searches. A successful
directory login is remembered for LDAP_CREDENTIAL_CACHE_SECONDS (default 60) under an
HMAC (keyed with SECRET_KEY) of the settings fingerprint, the user name, the user's DN
and the password: the cache holds nothing that reveals the password, and any change of
the LDAP settings makes every entry unreachable. The directory cannot tell us when a
password changes or an account is locked, so the old password keeps working, and a
locked account keeps signing in, for at most that TTL. Failed logins are never cached.

Groups: the resolved group DNs of a user DN are remembered for LDAP_GROUP_CACHE_SECONDS
(default 300), so membership changes in the directory apply within five minutes.

Admin role for UI sessions: the last directory login of a user records whether they are
in ldap_group_admin_dn, for as long as a UI session lives (session_timeout), so that the
session's user gets the role back on every request (accounts.backends).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from accounts.ldap_settings import LdapSettings
from harbor_py.core import configuration


@dataclass(frozen=True)
class RememberedLogin:
    user_id: int
    admin: bool


def _mac(*parts: str) -> str:
    material = "\x00".join(parts).encode()
    return hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()


def credential_seconds() -> int:
    return settings.HARBOR.get("LDAP_CREDENTIAL_CACHE_SECONDS", 60)


def group_seconds() -> int:
    return settings.HARBOR.get("LDAP_GROUP_CACHE_SECONDS", 300)


def _dn_key(ldap: LdapSettings, username: str) -> str:
    return "ldapdn:" + _mac("dn", ldap.fingerprint, username)


def _login_key(ldap: LdapSettings, username: str, dn: str, password: str) -> str:
    return "ldapcred:" + _mac("login", ldap.fingerprint, username, dn, password)


def recall_login(ldap: LdapSettings, username: str, password: str) -> RememberedLogin | None:
    dn = cache.get(_dn_key(ldap, username))
    if dn is None:
        return None
    found = cache.get(_login_key(ldap, username, dn, password))
    return RememberedLogin(**found) if found else None


def remember_login(
    ldap: LdapSettings, username: str, dn: str, password: str, login: RememberedLogin
) -> None:
    seconds = credential_seconds()
    if seconds <= 0:
        return
    cache.set_many(
        {
            _dn_key(ldap, username): dn,
            _login_key(ldap, username, dn, password): {
                "user_id": login.user_id,
                "admin": login.admin,
            },
        },
        timeout=seconds,
    )


def _groups_key(ldap: LdapSettings, dn: str) -> str:
    return "ldapgroups:" + _mac("groups", ldap.fingerprint, dn.lower())


def recall_groups(ldap: LdapSettings, dn: str) -> set[str] | None:
    found = cache.get(_groups_key(ldap, dn))
    return set(found) if found is not None else None


def remember_groups(ldap: LdapSettings, dn: str, groups: set[str]) -> None:
    if group_seconds() > 0:
        cache.set(_groups_key(ldap, dn), sorted(groups), timeout=group_seconds())


def _admin_key(user_id: int) -> str:
    return f"ldapadminrole:{user_id}"


def remember_admin_role(ldap: LdapSettings, user_id: int, admin: bool) -> None:
    if admin:
        seconds = configuration.get("session_timeout") * 60
        cache.set(_admin_key(user_id), ldap.fingerprint, timeout=seconds)
    else:
        cache.delete(_admin_key(user_id))


def session_admin_role(ldap: LdapSettings, user_id: int) -> bool:
    return cache.get(_admin_key(user_id)) == ldap.fingerprint
