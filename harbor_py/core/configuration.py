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

from harbor_py.core import secretbox
from harbor_py.core.errors import DomainError, Problem, bad_request
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
    # one of Harbor's: answered by GET /configurations (whose contract admits no other
    # key); harbor-py's own settings are written by PUT and read by their owners only
    harbor: bool = True


# Every setting, registered by the app that owns it (its `options` module, which
# HarborPyConfig.ready imports for every installed app); this module knows none of them.
ITEMS: dict[str, Item] = {}


def register(
    key: str,
    kind: type,
    default: Any,
    *,
    secret: bool = False,
    editable: bool = True,
    choices: tuple[Any, ...] | None = None,
    check: Callable[[Any], str | None] | None = None,
    harbor: bool = True,
) -> None:
    """Declare a run-time setting; a second registration of a key is refused, as is a
    default that its own checks would refuse."""
    if key in ITEMS:
        raise ValueError(f"the setting {key} is registered twice")
    item = Item(kind, default, secret, editable, choices, check, harbor)
    try:
        _coerce(key, item, default)
    except DomainError as exc:
        raise ValueError(f"the default of {key} is invalid: {exc}") from None
    ITEMS[key] = item


def between(low: int, high: int, unit: str) -> Callable[[int], str | None]:
    """A check for a number within bounds. Durations have them: a token or robot expiry
    past year 9999 cannot be represented, and with one every pull failed and robot creation
    answered 500 (issue #20)."""

    def check(value: int) -> str | None:
        if low <= value <= high:
            return None
        return Problem(
            f"must be between {low} and {high} {unit}", "config.out_of_range", low=low, high=high
        )

    return check


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


def prime(values: object) -> None:
    """Settings that the caller read from the cache in a round trip of its own (`CACHE_KEY`;
    None on a miss), kept as this request's values."""
    memo = _request_memo.get()
    if isinstance(values, dict) and memo is not None and "values" not in memo:
        memo["values"] = values


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
        coded = problem if isinstance(problem, Problem) else Problem(problem)
        raise bad_request(f"{key} {problem}", key=coded.key, params={"field": key, **coded.params})
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
