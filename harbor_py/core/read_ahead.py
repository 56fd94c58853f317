"""Cache entries read together in one round trip, for code that would read them one by one.

A caller that knows which entries the code it is about to run reads (`harbor_py.core.events`:
the `wants` filters of an event's consumers) reads them in one MGET inside `ahead(keys)`;
that code reads each through `get(key)`, which answers from the MGET's values for those
keys (a miss included) and from the cache for any other key.
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
    token = _values.set({key: found.get(key) for key in keys})
    try:
        yield
    finally:
        _values.reset(token)


def get(key: str) -> Any:
    """The cache's value of `key` (None on a miss), read ahead or now."""
    values = _values.get()
    if values is not None and key in values:
        return values.pop(key)  # once: a writer in the block may have changed it since
    return cache.get(key)
