"""System settings that an admin changes at run time (Harbor's /configurations).

Values live in the database (ConfigEntry); every node reads them through the shared
cache, which an update clears, so a change applies everywhere without a restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from harbor_py.api.errors import bad_request
from harbor_py.core import secretbox
from harbor_py.models import ConfigEntry

CACHE_KEY = "configuration:v1"
CACHE_SECONDS = 60


@dataclass(frozen=True)
class Item:
    type: type
    default: Any
    secret: bool = False
    editable: bool = True
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None


def _ldap_urls(value: str) -> str | None:
    from accounts.ldap_settings import SettingsError, parse_urls  # accounts needs this module

    try:
        parse_urls(value)
    except SettingsError as exc:
        return f"is invalid: {exc}"
    return None


def _syslog_endpoint(value: str) -> str | None:
    from audit.forwarding import endpoint_problem  # audit needs this module

    return endpoint_problem(value)


def _between(low: int, high: int, unit: str) -> Callable[[int], str | None]:
    """Durations have bounds: a token or robot expiry past year 9999 cannot be represented,
    and with one every pull failed and robot creation answered 500 (issue #20)."""

    def check(value: int) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high} {unit}"

    return check


MAX_BYTES = 2**63 - 1  # PostgreSQL's bigint
MINUTES_PER_YEAR = 365 * 24 * 60
MAX_ROBOT_DAYS = 36500  # a hundred years


def _quota(value: int) -> str | None:
    if value == -1 or 0 <= value <= MAX_BYTES:
        return None
    return "must be -1 (unlimited) or a size in bytes"


ITEMS: dict[str, Item] = {
    "auth_mode": Item(str, "db_auth", choices=("db_auth", "ldap_auth")),
    "primary_auth_mode": Item(bool, False),
    "project_creation_restriction": Item(str, "everyone", choices=("everyone", "adminonly")),
    "self_registration": Item(bool, False),
    "token_expiration": Item(int, 30, check=_between(1, MINUTES_PER_YEAR, "minutes")),
    "read_only": Item(bool, False),
    "notification_enable": Item(bool, True),
    "session_timeout": Item(int, 60, check=_between(1, MINUTES_PER_YEAR, "minutes")),
    "banner_message": Item(str, ""),
    "robot_token_duration": Item(int, 30, check=_between(1, MAX_ROBOT_DAYS, "days")),
    "robot_name_prefix": Item(str, "robot$"),
    "quota_per_project_enable": Item(bool, True),
    "storage_per_project": Item(int, -1, check=_quota),
    "audit_log_forward_endpoint": Item(str, "", check=_syslog_endpoint),
    "skip_audit_log_database": Item(bool, False),
    "disabled_audit_log_event_types": Item(str, ""),
    "scanner_skip_update_pulltime": Item(bool, False),
    "ldap_url": Item(str, "", check=_ldap_urls),
    "ldap_search_dn": Item(str, ""),
    "ldap_search_password": Item(str, "", secret=True),
    "ldap_base_dn": Item(str, ""),
    "ldap_filter": Item(str, ""),
    "ldap_uid": Item(str, "cn"),
    "ldap_scope": Item(int, 2, choices=(0, 1, 2)),
    "ldap_timeout": Item(int, 5, check=_between(1, 3600, "seconds")),
    "ldap_verify_cert": Item(bool, True),
    "ldap_group_base_dn": Item(str, ""),
    "ldap_group_search_filter": Item(str, ""),
    "ldap_group_attribute_name": Item(str, "cn"),
    "ldap_group_search_scope": Item(int, 2, choices=(0, 1, 2)),
    "ldap_group_admin_dn": Item(str, ""),
    "ldap_group_membership_attribute": Item(str, "memberof"),
    "ldap_group_attach_parallel": Item(bool, False),
}


# Within one request the settings are read once: a registry request asks for several
# (read-only mode, token expiry, audit policy, auth mode), each a Redis round trip otherwise.
# `per_request` turns it on for the duration of a request; elsewhere (Celery, commands)
# every read goes to the cache.
_request_memo: ContextVar[dict[str, dict[str, Any]] | None] = ContextVar(
    "configuration_request_memo", default=None
)


@contextlib.contextmanager
def per_request() -> Iterator[None]:
    token = _request_memo.set({})
    try:
        yield
    finally:
        _request_memo.reset(token)


def _load() -> dict[str, Any]:
    memo = _request_memo.get()
    if memo is not None and "values" in memo:
        return memo["values"]
    values = _read()
    if memo is not None:
        memo["values"] = values
    return values


def _read() -> dict[str, Any]:
    # The database is the source of truth: without Redis (e.g. during `platform prepare`,
    # before the private redis-server runs) settings are read from it directly.
    try:
        values = cache.get(CACHE_KEY)
    except RedisError:
        values = None
    if values is None:
        values = {entry.key: entry.value for entry in ConfigEntry.objects.all()}
        with contextlib.suppress(RedisError):
            cache.set(CACHE_KEY, values, CACHE_SECONDS)
    return values


def get(key: str) -> Any:
    item = ITEMS[key]
    stored = _load().get(key, item.default)
    if item.secret and stored:
        return secretbox.decrypt(stored)
    return stored


def snapshot() -> dict[str, Any]:
    """Every setting with its current value; secrets are left out."""
    values = _load()
    return {key: values.get(key, item.default) for key, item in ITEMS.items() if not item.secret}


def _coerce(key: str, item: Item, value: Any) -> Any:
    if item.type is bool:
        if not isinstance(value, bool):
            raise bad_request(f"{key} must be a boolean")
    elif item.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"{key} must be an integer")
    elif not isinstance(value, str):
        raise bad_request(f"{key} must be a string")
    if item.choices is not None and value not in item.choices:
        raise bad_request(f"{key} must be one of {', '.join(map(str, item.choices))}")
    if item.check and (problem := item.check(value)):
        raise bad_request(f"{key} {problem}")
    return value


def validate(changes: object) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise bad_request("a JSON object of settings is required")
    unknown = sorted(set(changes) - set(ITEMS))
    if unknown:
        raise bad_request(f"unknown configuration keys: {', '.join(unknown)}")
    return {key: _coerce(key, ITEMS[key], value) for key, value in changes.items()}


@transaction.atomic
def store(changes: dict[str, Any]) -> None:
    """Write validated changes. Callers add their own checks and the audit record."""
    for key, value in changes.items():
        item = ITEMS[key]
        stored = secretbox.encrypt(value) if item.secret and value else value
        ConfigEntry.objects.update_or_create(key=key, defaults={"value": stored})
    # Now for this request, and again after commit in case a reader refilled the cache
    # with the old values while the transaction was open.
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    if (memo := _request_memo.get()) is not None:
        memo.clear()  # this request reads its own writes
