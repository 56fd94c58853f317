"""Harbor's directory tools: ping, user search and import, group search and lookup.

Directory failures become API errors here: 503 when the directory cannot be used
(connect, bind), 400 when the settings or the input make the search fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import ldap
import ldap.dn

from accounts import ldap_services, selectors
from accounts.ldap_client import (
    Directory,
    DirectoryError,
    DirectoryGroup,
    DirectoryUser,
    SearchFailed,
)
from accounts.ldap_settings import LdapSettings, SettingsError, current
from accounts.models import User, UserGroup
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request


@dataclass(frozen=True)
class PingResult:
    success: bool
    message: str


@dataclass(frozen=True)
class FailedImport:
    uid: str
    error: str


def saved_settings() -> LdapSettings:
    try:
        return current()
    except SettingsError as exc:
        raise bad_request(f"the saved LDAP settings are invalid: {exc}") from None


def configured_settings() -> LdapSettings:
    """The saved settings for a directory operation: without a server, the request cannot
    be served, and says so (412) instead of a 503 that clients would retry."""
    config = saved_settings()
    if not config.urls:
        raise DomainError(
            Code.PRECONDITION, "LDAP is not configured: set ldap_url in the configuration"
        )
    return config


def _api_error(exc: DirectoryError) -> DomainError:
    if isinstance(exc, SearchFailed):
        return bad_request(f"LDAP {exc}")
    return DomainError(Code.SERVICE_UNAVAILABLE, f"LDAP {exc}")


def ping(config: LdapSettings) -> PingResult:
    """Connect (with failover), bind as the search DN, read the search base, and run the
    user filter once: the message names the step that failed."""
    if not config.base_dn:
        return PingResult(False, "search: ldap_base_dn is empty")
    try:
        with Directory.open(config) as directory:
            directory.search(config.base_dn, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"], limit=1)
            directory.search_users("", limit=1)
            url = directory.url
    except DirectoryError as exc:
        return PingResult(False, str(exc))
    who = config.search_dn or "anonymous"
    return PingResult(True, f"connected to {url} as {who}; search base {config.base_dn} found")


def search_users(username: str) -> list[DirectoryUser]:
    try:
        with Directory.open(configured_settings()) as directory:
            return directory.search_users(username)
    except DirectoryError as exc:
        raise _api_error(exc) from None


def import_users(*, uids: list[str], actor: Actor) -> list[FailedImport]:
    """Onboard the directory users named by `uids` (exact ldap_uid values); returns the
    ones that could not be, with Harbor's reasons."""
    failed: list[FailedImport] = []
    try:
        with Directory.open(configured_settings()) as directory:
            for uid in uids:
                name = uid.strip()
                if not name:
                    failed.append(FailedImport(uid, "empty_uid"))
                    continue
                if User.objects.filter(username__iexact=name).exists():
                    failed.append(FailedImport(uid, "duplicate_user"))
                    continue
                found = directory.find_users(name)
                if len(found) != 1:
                    failed.append(
                        FailedImport(uid, "unknown_user" if not found else "ambiguous_user")
                    )
                    continue
                if ldap_services.reserved_name(found[0].username):
                    failed.append(FailedImport(uid, "reserved_username"))
                    continue
                try:
                    ldap_services.onboard_user(entry=found[0], actor=actor)
                except ldap_services.LocalAccount:
                    failed.append(FailedImport(uid, "duplicate_user"))
    except DirectoryError as exc:
        raise _api_error(exc) from None
    return failed


def _valid_dn(dn: str) -> str:
    dn = dn.strip()
    try:
        if not dn or not ldap.dn.str2dn(dn):
            raise ValueError
    except (ldap.DECODING_ERROR, ValueError):
        raise bad_request(f"invalid DN syntax: {dn}") from None
    return dn


def search_groups(*, name: str = "", dn: str = "") -> list[DirectoryGroup]:
    if not name and not dn:
        raise bad_request("groupname or groupdn is required")
    config = configured_settings()
    try:
        with Directory.open(config) as directory:
            if dn:
                group = directory.group_by_dn(_valid_dn(dn))
                return [group] if group else []
            return directory.search_groups(name)
    except DirectoryError as exc:
        raise _api_error(exc) from None


def confirm_group(*, dn: str, group_name: str = "") -> tuple[str, str]:
    """(DN, name) of the directory group `dn`, or 400 when the directory has none (Harbor
    checks LDAP user groups before creating them). The name defaults to the directory's."""
    found = search_groups(dn=dn)
    if not found:
        raise bad_request(f"LDAP Group DN is not found: DN:{dn}")
    return found[0].dn, group_name.strip() or found[0].name


def onboard_group(*, dn: str, group_name: str = "", actor: Actor) -> UserGroup | None:
    """Harbor's SearchAndOnBoardGroup (a project member names a group DN that is no user
    group yet): the LDAP user group for `dn`, created when the directory has such a group;
    None when it has not."""
    existing = UserGroup.objects.filter(
        group_type=UserGroup.GroupType.LDAP, ldap_group_dn=selectors.normalize_dn(dn)
    ).first()
    if existing is not None:
        return existing
    found = search_groups(dn=dn)
    if not found:
        return None
    name = group_name.strip() or found[0].name
    return ldap_services.onboard_group(dn=found[0].dn, group_name=name, actor=actor)


def onboard_user(*, username: str, actor: Actor) -> User | None:
    """Harbor's SearchAndOnBoardUser (adding a project member by name): the user of that
    directory entry, onboarded; None when the directory has no such user."""
    try:
        with Directory.open(configured_settings()) as directory:
            found = directory.find_users(username)
    except DirectoryError as exc:
        raise _api_error(exc) from None
    if len(found) != 1 or ldap_services.reserved_name(found[0].username):
        return None
    try:
        user, _ = ldap_services.onboard_user(entry=found[0], actor=actor)
    except ldap_services.LocalAccount as exc:
        raise bad_request(str(exc)) from None
    return user
