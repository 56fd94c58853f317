"""Cache entries read together in one round trip, for code that would read them one by one.

A caller that knows which entries the code it is about to run reads (`harbor_py.core.events`:
the `wants` filters of an event's consumers) reads them in one MGET inside `ahead(keys)`,
or hands over what it read with other keys of its own (`given`; `accounts.login`); that
code reads each through `get(key)`, which answers from those values for those keys (a miss
included) and from the cache for any other key.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

_values: ContextVar[dict[str, Any] | None] = ContextVar("read_ahead_values", default=None)


@contextlib.contextmanager
def ahead(keys: Collection[str]) -> Iterator[None]:
    """Within the block, `get` answers for `keys` from one MGET made now."""
    if not keys:
        yield
        return
    found = cache.get_many(keys)
    with given({key: found.get(key) for key in keys}):
        yield


@contextlib.contextmanager
def given(values: dict[str, Any]) -> Iterator[None]:
    """Within the block, `get` answers for these keys with these values (None: a miss),
    which the caller read in a round trip of its own."""
    token = _values.set(values)
    try:
        yield
    finally:
        _values.reset(token)


def get(key: str) -> Any:
    """The cache's value of `key` (None on a miss), read ahead or now."""
    values = _values.get()
    if values is not None and key in values:
        return values[key]
    return cache.get(key)
