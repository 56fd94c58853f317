"""Django's Redis cache backend, with one client object per connection pool.

Django's RedisCacheClient.get_client() builds a new redis.Redis for every operation, and
each construction copies redis-py's table of response callbacks (~0.3 ms): on the token
and /v2 paths, which touch the cache several times a request, that was a measurable share
of the CPU. redis.Redis is thread-safe, so one per pool is enough.

Through Sentinel (REDIS_SENTINELS) reads and writes both go to the master, with the client
of harbor_py.core.redis_conn, which follows a failover.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from harbor_py.core import redis_conn


class PooledRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if settings.REDIS_SENTINEL is not None:
            return redis_conn.client(timeout=5)
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = self._client(  # type: ignore[attr-defined]  # Django's private API
                connection_pool=self._get_connection_pool(write)  # type: ignore[attr-defined]  # likewise
            )
        return client


class HarborRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient
