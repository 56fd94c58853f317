"""This test process's share of the cache. Tests share the machine's Redis database with
concurrent runs and pytest-xdist workers, each under its own key prefix (settings_test.py):
cache.clear() would FLUSHDB the whole database, their keys too."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache


def clear_run_cache() -> None:
    """What cache.clear() does for this process alone: delete the keys under its prefix."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]  # Django's RedisCache internals
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
