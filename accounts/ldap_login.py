"""The directory login itself, carried by django-auth-ldap's LDAPBackend: find the one entry
whose ldap_uid is the name (the name escaped into the filter), bind as it with the
password, and hand over the Harbor user.

Its settings are not AUTH_LDAP_* in settings.py but built per login from the run-time
configuration (accounts.ldap_settings), so a change made through /configurations applies
to the next login on every node. What it does not do stays ours, on top (accounts.ldap_auth
and the hook below): the connection with failover across ldap_url and its report
(accounts.ldap_client.Directory, which django-auth-ldap is given as its connection),
lockout flags, onboarding with its audit record, Harbor's user groups and the sysadmin role
of ldap_group_admin_dn. django-auth-ldap's own group mirroring and user flags are not used:
our groups are UserGroup rows that are project members, and the sysadmin role is granted
per login, never stored.
"""

from __future__ import annotations

import logging
from typing import Any

import ldap
from django_auth_ldap.backend import LDAPBackend
from django_auth_ldap.config import LDAPSearch, LDAPSettings

from accounts.ldap_client import Directory, DirectoryUser
from accounts.models import User

logger = logging.getLogger(__name__)

_MARK = "\0"


class _Connection:
    """What django-auth-ldap takes for a python-ldap connection: our Directory, already
    connected (failover done) and bound as the search account, so that searches and binds
    keep its timeouts and its errors (a DirectoryError, not swallowed as a failed login)."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.entries: list[tuple[str, dict[str, list[bytes]]]] = []

    def initialize(self, uri: str, bytes_mode: bool = False) -> _Connection:
        return self  # django-auth-ldap's `backend.ldap.initialize(SERVER_URI)`

    def simple_bind_s(self, who: str, cred: str) -> None:
        settings = self.directory.settings
        if (who, cred) == (settings.search_dn, settings.search_password):
            return  # bound as the search account, again before each search if need be
        for dn, _ in self.entries:  # django-auth-ldap lower-cases DNs; bind as spelt
            if dn.lower() == who.lower():
                who = dn
        if not self.directory.check_password(who, cred):
            logger.info("LDAP login refused for %s: wrong password", who)
            raise ldap.INVALID_CREDENTIALS({"desc": "Invalid credentials"})

    def search_s(
        self, base: str, scope: int, filterstr: str, attrlist: list[str] | None = None
    ) -> list[tuple[str, dict[str, list[bytes]]]]:
        # Two are enough to tell "several entries match", which refuses the login.
        self.entries = self.directory.search(base, scope, filterstr, list(attrlist or []), limit=2)
        if len(self.entries) != 1:
            why = "no such user" if not self.entries else "several entries match"
            logger.info("LDAP login refused for the filter %s: %s", filterstr, why)
        return self.entries


def _search_filter(directory: Directory) -> str:
    """The user filter with django-auth-ldap's placeholder for the (escaped) name."""
    return directory.user_filter(_MARK).replace("%", "%%").replace(_MARK, "%(user)s")


class DirectoryLogin(LDAPBackend):
    """One login over an open Directory. `on_entry(entry)` runs once the password is
    right: it returns the Harbor user, or raises LoginRefused."""

    def __init__(self, directory: Directory, on_entry: Any) -> None:
        config = directory.settings
        self.settings = LDAPSettings(
            defaults={
                "SERVER_URI": directory.url,
                "BIND_DN": config.search_dn,
                "BIND_PASSWORD": config.search_password,
                "USER_SEARCH": LDAPSearch(
                    config.base_dn,
                    config.scope,
                    _search_filter(directory),
                    directory.user_attributes(),
                ),
                "ALWAYS_UPDATE_USER": False,  # on_entry keeps the user in step, audited
            }
        )
        self._connection = _Connection(directory)
        self._ldap = self._connection
        self._on_entry = on_entry

    def get_or_build_user(self, username: str, ldap_user: Any) -> tuple[User, bool]:
        dn, attrs = self._connection.entries[0]
        entry: DirectoryUser = self._connection.directory.to_user(dn, attrs)
        return self._on_entry(entry), False

    def login(self, username: str, password: str) -> User | None:
        """The user, or None for wrong credentials (no entry, several, wrong password)."""
        user = self.authenticate(None, username=username, password=password)
        if user is not None:  # django-auth-ldap's back references, not ours to keep
            user.__dict__.pop("ldap_user", None)
            user.__dict__.pop("ldap_username", None)
        return user
