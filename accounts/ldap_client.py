"""Talking to the directory with python-ldap: connect with failover, bind, search.

Logins are carried by django-auth-ldap (accounts.ldap_login), which is handed a Directory
as its connection. What it has no part for is here: trying each ldap_url in order with
the reason each one failed, timeouts on every call, lockout flags, and the user and group
searches of Harbor's directory tools and group resolution.

Every value that goes into a filter is escaped with ldap.filter.escape_filter_chars.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import ldap
import ldap.dn
from ldap.filter import escape_filter_chars

from accounts.ldap_settings import LdapSettings

logger = logging.getLogger(__name__)

AD_CAPABILITY = "1.2.840.113556.1.4.800"  # LDAP_CAP_ACTIVE_DIRECTORY_OID
UAC_ACCOUNTDISABLE = 0x2
UAC_LOCKOUT = 0x10
SEARCH_LIMIT = 1000
_LOCK_ATTRIBUTES = ("userAccountControl", "pwdAccountLockedTime", "nsAccountLock")


class DirectoryError(Exception):
    """A directory operation failed; `stage` is connect, bind or search."""

    stage = "search"

    def __str__(self) -> str:
        return f"{self.stage}: {self.args[0]}"


class ConnectFailed(DirectoryError):
    stage = "connect"


class BindFailed(DirectoryError):
    stage = "bind"


class SearchFailed(DirectoryError):
    stage = "search"


class NoSuchBase(SearchFailed):
    pass


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    username: str
    email: str
    realname: str
    group_dns: tuple[str, ...]
    locked: str = ""  # why the directory marks the account unusable, else ""


@dataclass(frozen=True)
class DirectoryGroup:
    dn: str
    name: str


def _text(values: list[bytes] | None) -> str:
    return values[0].decode("utf-8", "replace").strip() if values else ""


def _attr(attrs: dict[str, list[bytes]], name: str) -> list[bytes]:
    wanted = name.lower()
    for key, values in attrs.items():
        if key.lower() == wanted:
            return values
    return []


def _lock_reason(attrs: dict[str, list[bytes]]) -> str:
    uac = _text(_attr(attrs, "userAccountControl"))
    if uac.lstrip("-").isdigit():
        flags = int(uac)
        if flags & UAC_ACCOUNTDISABLE:
            return "disabled"
        if flags & UAC_LOCKOUT:
            return "locked"
    if _attr(attrs, "pwdAccountLockedTime"):
        return "locked"
    if _text(_attr(attrs, "nsAccountLock")).lower() == "true":
        return "locked"
    return ""


def _ldap_message(exc: ldap.LDAPError) -> str:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    desc = info.get("desc") or type(exc).__name__
    extra = info.get("info")
    return f"{desc} ({extra})" if extra and extra != "(unknown error code)" else desc


def _tcp_open(url: str, timeout: float) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            return True
    except OSError:
        return False


class Directory:
    """One connection, bound as the search account (anonymously when none is set)."""

    def __init__(self, settings: LdapSettings, conn: Any, url: str) -> None:
        self.settings = settings
        self.conn = conn
        self.url = url
        self._service_bound = True

    @classmethod
    @contextlib.contextmanager
    def open(cls, settings: LdapSettings) -> Iterator[Directory]:
        directory = cls.connect(settings)
        try:
            yield directory
        finally:
            with contextlib.suppress(ldap.LDAPError):
                directory.conn.unbind_s()

    @classmethod
    def connect(cls, settings: LdapSettings) -> Directory:
        """Try each URL in order; the first that answers is used. A refused service bind
        is not a reason to fail over: the other servers hold the same directory."""
        if not settings.urls:
            raise ConnectFailed("no LDAP server is configured (ldap_url is empty)")
        failures = []
        for url in settings.urls:
            conn = cls._initialize(settings, url)
            try:
                conn.simple_bind_s(settings.search_dn, settings.search_password)
            except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR) as exc:
                failures.append(f"{url}: {cls._connect_problem(settings, url, exc)}")
                logger.warning("LDAP server unusable: %s", failures[-1])
                with contextlib.suppress(ldap.LDAPError):
                    conn.unbind_s()
                continue
            except ldap.INVALID_CREDENTIALS:
                raise BindFailed(
                    f"the directory refused the search DN {settings.search_dn!r} "
                    f"and its password at {url}"
                ) from None
            except ldap.LDAPError as exc:
                raise BindFailed(
                    f"binding as {settings.search_dn!r} at {url} failed: {_ldap_message(exc)}"
                ) from None
            return cls(settings, conn, url)
        raise ConnectFailed("cannot reach any LDAP server: " + "; ".join(failures))

    @staticmethod
    def _initialize(settings: LdapSettings, url: str) -> Any:
        conn = ldap.initialize(url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        conn.set_option(ldap.OPT_REFERRALS, 0)  # AD's referrals would need other credentials
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, settings.timeout)
        conn.set_option(ldap.OPT_TIMEOUT, settings.timeout)
        conn.timeout = settings.timeout  # python-ldap's wait for each synchronous call
        if url.startswith("ldaps://"):
            require = ldap.OPT_X_TLS_DEMAND if settings.verify_cert else ldap.OPT_X_TLS_NEVER
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, require)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # apply the TLS options to this handle
        return conn

    @staticmethod
    def _connect_problem(settings: LdapSettings, url: str, exc: ldap.LDAPError) -> str:
        if isinstance(exc, ldap.TIMEOUT):
            return f"no answer within {settings.timeout}s"
        # libldap says "Can't contact LDAP server" for refused connections and failed TLS
        # handshakes alike; tell them apart for the operator.
        if url.startswith("ldaps://") and _tcp_open(url, settings.timeout):
            hint = " (is its certificate trusted? ldap_verify_cert)" if settings.verify_cert else ""
            return f"TLS handshake failed{hint}"
        return _ldap_message(exc)

    # -- binding --------------------------------------------------------------------------
    def _ensure_service_bind(self) -> None:
        if not self._service_bound:
            self._call(
                self.conn.simple_bind_s, self.settings.search_dn, self.settings.search_password
            )
            self._service_bound = True

    def check_password(self, dn: str, password: str) -> bool:
        """Bind as `dn`. An empty password would be an unauthenticated bind, which
        succeeds without checking anything: it is refused before asking."""
        if not password:
            return False
        self._service_bound = False
        try:
            self.conn.simple_bind_s(dn, password)
        except (ldap.INVALID_CREDENTIALS, ldap.UNWILLING_TO_PERFORM, ldap.INVALID_DN_SYNTAX):
            return False
        except (ldap.SERVER_DOWN, ldap.TIMEOUT) as exc:
            raise ConnectFailed(f"{self.url}: {_ldap_message(exc)}") from None
        except ldap.LDAPError as exc:
            logger.warning("LDAP bind of %s refused: %s", dn, _ldap_message(exc))
            return False
        return True

    # -- searching ------------------------------------------------------------------------
    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (ldap.SERVER_DOWN, ldap.TIMEOUT) as exc:
            raise ConnectFailed(f"{self.url}: {_ldap_message(exc)}") from None
        except ldap.INVALID_CREDENTIALS:
            raise BindFailed(f"the search DN was refused at {self.url}") from None

    def search(
        self, base: str, scope: int, filterstr: str, attrs: list[str], *, limit: int = SEARCH_LIMIT
    ) -> list[tuple[str, dict[str, list[bytes]]]]:
        """Entries (without referrals), at most `limit`: more are dropped, not an error."""
        self._ensure_service_bind()
        found: list[tuple[str, dict[str, list[bytes]]]] = []
        try:
            msgid = self._call(self.conn.search_ext, base, scope, filterstr, attrs, sizelimit=limit)
            while True:
                kind, data = self._call(self.conn.result, msgid, 0, self.settings.timeout)
                if kind == ldap.RES_SEARCH_RESULT:
                    return found
                found.extend((dn, entry) for dn, entry in data if dn and isinstance(entry, dict))
        except ldap.SIZELIMIT_EXCEEDED:
            return found
        except ldap.NO_SUCH_OBJECT:
            raise NoSuchBase(f"the search base {base!r} does not exist") from None
        except ldap.FILTER_ERROR:
            raise SearchFailed(f"invalid search filter {filterstr!r}") from None
        except ldap.INVALID_DN_SYNTAX:
            raise SearchFailed(f"invalid DN syntax: {base!r}") from None
        except ldap.LDAPError as exc:
            raise SearchFailed(f"searching {base!r} failed: {_ldap_message(exc)}") from None

    def is_active_directory(self) -> bool:
        try:
            rows = self.search("", ldap.SCOPE_BASE, "(objectClass=*)", ["supportedCapabilities"])
        except SearchFailed:
            return False
        capabilities = rows[0][1].get("supportedCapabilities", []) if rows else []
        return AD_CAPABILITY.encode() in capabilities

    # -- users ----------------------------------------------------------------------------
    def user_attributes(self) -> list[str]:
        s = self.settings
        names = [s.uid, "mail", "email", "displayName", "cn", *_LOCK_ATTRIBUTES]
        if s.membership_attribute:
            names.append(s.membership_attribute)
        return names

    def user_filter(self, value: str) -> str:
        clause = f"({self.settings.uid}={value})"
        if self.settings.user_filter:
            return f"(&{self.settings.user_filter}{clause})"
        return clause

    def to_user(self, dn: str, attrs: dict[str, list[bytes]]) -> DirectoryUser:
        s = self.settings
        username = _text(_attr(attrs, s.uid))
        email = _text(_attr(attrs, "mail")) or _text(_attr(attrs, "email"))
        if not email and "@" in username:
            email = username
        realname = _text(_attr(attrs, "displayName")) or _text(_attr(attrs, "cn")) or username
        groups = (
            tuple(v.decode("utf-8", "replace") for v in _attr(attrs, s.membership_attribute))
            if s.membership_attribute
            else ()
        )
        return DirectoryUser(dn, username, email, realname, groups, _lock_reason(attrs))

    def find_users(self, username: str) -> list[DirectoryUser]:
        """Entries whose uid attribute equals `username` (matched by the directory's rules,
        usually case-insensitively). Entries without the attribute are skipped."""
        value = escape_filter_chars(username)
        rows = self.search(
            self.settings.base_dn,
            self.settings.scope,
            self.user_filter(value),
            self.user_attributes(),
            limit=2,
        )
        users = [self.to_user(dn, attrs) for dn, attrs in rows]
        return [u for u in users if u.username]

    def search_users(self, fragment: str, *, limit: int = SEARCH_LIMIT) -> list[DirectoryUser]:
        value = f"*{escape_filter_chars(fragment)}*" if fragment else "*"
        rows = self.search(
            self.settings.base_dn,
            self.settings.scope,
            self.user_filter(value),
            self.user_attributes(),
            limit=limit,
        )
        return [u for u in (self.to_user(dn, a) for dn, a in rows) if u.username]

    # -- groups ---------------------------------------------------------------------------
    def _to_group(self, dn: str, attrs: dict[str, list[bytes]]) -> DirectoryGroup:
        name = _text(_attr(attrs, self.settings.group_name_attribute))
        if not name:
            with contextlib.suppress(ldap.DECODING_ERROR, IndexError):
                name = ldap.dn.str2dn(dn)[0][0][1]
        return DirectoryGroup(dn, name or dn)

    def search_groups(self, name: str, *, limit: int = SEARCH_LIMIT) -> list[DirectoryGroup]:
        s = self.settings
        value = f"*{escape_filter_chars(name)}*" if name else "*"
        filterstr = f"(&{s.effective_group_filter}({s.group_name_attribute}={value}))"
        rows = self.search(
            s.group_search_root, s.group_scope, filterstr, [s.group_name_attribute], limit=limit
        )
        return [self._to_group(dn, attrs) for dn, attrs in rows]

    def group_by_dn(self, dn: str) -> DirectoryGroup | None:
        s = self.settings
        try:
            rows = self.search(
                dn, ldap.SCOPE_BASE, s.effective_group_filter, [s.group_name_attribute], limit=1
            )
        except NoSuchBase:
            return None
        return self._to_group(*rows[0]) if rows else None
