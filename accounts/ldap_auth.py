"""Directory logins (auth_mode ldap_auth) for the UI, the API and /service/token.

A login finds the entry whose ldap_uid equals the name (escaped, under ldap_base_dn with
ldap_filter) and binds as that entry with the password, both carried by django-auth-ldap
(accounts.ldap_login). Around that, ours: the credential cache; refusing entries the
directory marks disabled or locked; onboarding the user; linking it to the LDAP user
groups it is in (nested groups included); the sysadmin role for this login when it is in
ldap_group_admin_dn.

Sysadmin role from the directory: granted per login (User.grant_admin_role), never
written to the user row, as Harbor's admin_role_in_auth. API and token callers log in on
every request (through the short credential cache), UI sessions get it back from the
record of their last directory login (accounts.backends). So leaving the admin group
takes effect with the next directory login (within the cache TTLs), and a sysadmin_flag
set by hand stays as it was.
"""

from __future__ import annotations

import logging

from accounts import ldap_cache, ldap_groups, ldap_services
from accounts.ldap_cache import RememberedLogin
from accounts.ldap_client import Directory, DirectoryError, DirectoryUser
from accounts.ldap_login import DirectoryLogin
from accounts.ldap_settings import LdapSettings, SettingsError, current
from accounts.login_errors import DirectoryUnavailable, LoginRefused
from accounts.models import User
from accounts.selectors import normalize_dn
from harbor_py.core.actor import Actor

logger = logging.getLogger(__name__)

_STAGE_MESSAGES = {
    "connect": "the LDAP server cannot be reached",
    "bind": "the LDAP search account was refused by the directory",
    "search": "searching the LDAP directory failed",
}


def settings_or_unavailable() -> LdapSettings:
    try:
        return current()
    except SettingsError as exc:
        raise DirectoryUnavailable(
            f"LDAP is misconfigured: {exc}", key="login.directory_unavailable"
        ) from None


def unavailable(exc: DirectoryError) -> DirectoryUnavailable:
    logger.error("LDAP directory unusable: %s", exc)
    return DirectoryUnavailable(
        _STAGE_MESSAGES.get(exc.stage, "the LDAP directory failed"),
        key="login.directory_unavailable",
    )


def _is_admin(config: LdapSettings, groups: set[str]) -> bool:
    return bool(config.group_admin_dn) and normalize_dn(config.group_admin_dn) in groups


def _ask_directory(
    config: LdapSettings, username: str, password: str, address: str
) -> tuple[User, str, set[str]] | None:
    """django-auth-ldap finds the entry and checks the password (accounts.ldap_login); once
    the password is right, the entry's lockout flags, groups and Harbor user are ours.
    Returns the user, the entry's DN and its group DNs, or None for wrong credentials."""
    seen: list[tuple[str, set[str]]] = []

    def harbor_user(entry: DirectoryUser) -> User:
        # The caller knows the password from here on: tell them why they cannot sign in.
        if entry.locked:
            raise LoginRefused(
                f"the account {entry.username} is {entry.locked} in the directory",
                key="login.directory_refused",
                params={"name": entry.username},
            )
        if ldap_services.reserved_name(entry.username):
            raise LoginRefused(
                f"the directory user {entry.username} cannot sign in to Harbor",
                key="login.directory_refused",
                params={"name": entry.username},
            )
        groups = ldap_cache.recall_groups(config, entry.dn)
        if groups is None:
            groups = ldap_groups.resolve(directory, entry)
            ldap_cache.remember_groups(config, entry.dn, groups)
        seen.append((entry.dn, groups))
        try:
            user, _ = ldap_services.onboard_user(
                entry=entry, actor=Actor(username=entry.username, client_address=address)
            )
        except ldap_services.LocalAccount as exc:
            raise LoginRefused(str(exc)) from None
        return user

    with Directory.open(config) as directory:
        user = DirectoryLogin(directory, harbor_user).login(username, password)
    if user is None:
        return None
    dn, groups = seen[0]
    return user, dn, groups


def authenticate(username: str, password: str, *, address: str = "") -> User | None:
    """The user, or None for wrong credentials. Raises LoginRefused (account locked or
    disabled) and DirectoryUnavailable (server down, settings wrong). `address`: the
    client's, for the audit records of onboarding and group changes."""
    if not username.strip() or not password or len(username) > 255 or len(password) > 1024:
        return None
    config = settings_or_unavailable()
    remembered = ldap_cache.recall_login(config, username, password)
    if remembered is not None:
        user = User.objects.filter(pk=remembered.user_id, is_active=True).first()
        if user is not None:
            if remembered.admin:
                user.grant_admin_role()
            return user
    try:
        answer = _ask_directory(config, username, password, address)
    except DirectoryError as exc:
        raise unavailable(exc) from None
    if answer is None:
        return None
    user, dn, groups = answer
    if not user.is_active:
        raise LoginRefused(
            f"the user {user.username} is deactivated in Harbor",
            key="login.deactivated",
            params={"name": user.username},
        )
    ldap_services.sync_user_groups(
        user=user, group_dns=groups, actor=Actor.of_user(user, address=address)
    )
    admin = _is_admin(config, groups)
    ldap_cache.remember_login(config, username, dn, password, RememberedLogin(user.pk, admin))
    ldap_cache.remember_admin_role(config, user.pk, admin)
    if admin:
        user.grant_admin_role()
    return user
