"""The LDAP settings of one login or one directory tool call, read from the configuration.

Built fresh on every call from harbor_py.core.configuration (whose shared cache an update
clears), never kept at module level, so a PUT /configurations applies on every node at
once. `fingerprint` names the settings in cache keys: changing any of them makes cached
logins and group lists unreachable.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from harbor_py.core import configuration

DEFAULT_GROUP_FILTER = (
    "(|(objectClass=group)(objectClass=groupOfNames)"
    "(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
)
_URL_SEPARATORS = re.compile(r"[\s,]+")


class SettingsError(ValueError):
    pass


def parse_urls(value: str) -> tuple[str, ...]:
    """`ldap_url`: one or more URLs separated by spaces or commas, tried in order.
    A missing scheme means ldap://, a missing port the scheme's default (as Harbor)."""
    urls = []
    for raw in _URL_SEPARATORS.split(value.strip()):
        if not raw:
            continue
        text = raw if "://" in raw else f"ldap://{raw}"
        try:
            parts = urlsplit(text)  # raises on a bracket it cannot close
        except ValueError as exc:
            raise SettingsError(f"invalid LDAP URL {raw!r}: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in ("ldap", "ldaps"):
            raise SettingsError(f"unsupported LDAP URL scheme in {raw!r}: use ldap:// or ldaps://")
        try:
            port = parts.port
        except ValueError:
            raise SettingsError(f"invalid port in LDAP URL {raw!r}") from None
        if not parts.hostname or parts.path.strip("/") or parts.query:
            raise SettingsError(f"invalid LDAP URL {raw!r}: expected scheme://host[:port]")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        urls.append(f"{scheme}://{host}:{port or (636 if scheme == 'ldaps' else 389)}")
    return tuple(urls)


def normalize_filter(value: str) -> str:
    """Harbor accepts filters with or without the outer parentheses."""
    value = value.strip()
    if value and not value.startswith("("):
        value = f"({value})"
    return value


@dataclass(frozen=True)
class LdapSettings:
    urls: tuple[str, ...]
    search_dn: str
    search_password: str
    base_dn: str
    user_filter: str
    uid: str
    scope: int
    timeout: int
    verify_cert: bool
    group_base_dn: str
    group_filter: str
    group_name_attribute: str
    group_scope: int
    group_admin_dn: str
    membership_attribute: str

    @property
    def group_search_root(self) -> str:
        return self.group_base_dn or self.base_dn

    @property
    def effective_group_filter(self) -> str:
        return self.group_filter or DEFAULT_GROUP_FILTER

    @property
    def fingerprint(self) -> str:
        public = {k: v for k, v in asdict(self).items() if k not in ("search_password", "timeout")}
        return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:32]


def _build(values: dict[str, Any]) -> LdapSettings:
    return LdapSettings(
        urls=parse_urls(values["ldap_url"]),
        search_dn=values["ldap_search_dn"].strip(),
        search_password=values["ldap_search_password"],
        base_dn=values["ldap_base_dn"].strip(),
        user_filter=normalize_filter(values["ldap_filter"]),
        uid=values["ldap_uid"].strip() or "cn",
        scope=int(values["ldap_scope"]),
        timeout=max(1, int(values["ldap_timeout"])),
        verify_cert=bool(values["ldap_verify_cert"]),
        group_base_dn=values["ldap_group_base_dn"].strip(),
        group_filter=normalize_filter(values["ldap_group_search_filter"]),
        group_name_attribute=values["ldap_group_attribute_name"].strip() or "cn",
        group_scope=int(values["ldap_group_search_scope"]),
        group_admin_dn=values["ldap_group_admin_dn"].strip(),
        membership_attribute=values["ldap_group_membership_attribute"].strip(),
    )


def current() -> LdapSettings:
    """The saved settings, read now (one cache read for all but the secret). A saved
    ldap_url that does not parse raises."""
    values = configuration.snapshot()
    values["ldap_search_password"] = configuration.get("ldap_search_password")
    return _build(values)


def with_overrides(base: LdapSettings, body: dict[str, Any]) -> LdapSettings:
    """POST /ldap/ping: the saved settings with the LdapConf fields of the body on top.
    An empty ldap_search_password keeps the saved one (the API never returns it)."""
    changes: dict[str, Any] = {}
    if "ldap_url" in body:
        changes["urls"] = parse_urls(body["ldap_url"])
    simple = {
        "ldap_search_dn": "search_dn",
        "ldap_base_dn": "base_dn",
        "ldap_uid": "uid",
    }
    for key, attribute in simple.items():
        if key in body:
            changes[attribute] = body[key].strip()
    if "ldap_filter" in body:
        changes["user_filter"] = normalize_filter(body["ldap_filter"])
    if body.get("ldap_search_password"):
        changes["search_password"] = body["ldap_search_password"]
    if "ldap_scope" in body:
        changes["scope"] = body["ldap_scope"]
    if body.get("ldap_connection_timeout"):
        changes["timeout"] = body["ldap_connection_timeout"]
    if "ldap_verify_cert" in body:
        changes["verify_cert"] = body["ldap_verify_cert"]
    return replace(base, **changes)
