"""Every Redis client of harbor-py comes from here: one server at REDIS_URL, or the master of
a Sentinel-managed group (REDIS_SENTINELS, REDIS_SENTINEL_MASTER, REDIS_DB, REDIS_PASSWORD).

Through Sentinel a client asks the sentinels for the master's address when it connects, and
again after a connection error or a READONLY reply (a demoted master): after a failover the
next command goes to the promoted replica. Everything is read from the master; a replica may
lag behind it.

A failover takes the sentinels' down-after time plus an election (seconds): meanwhile a
command retries with backoff for up to about FAILOVER_WAIT_SECONDS, asking the sentinels
again each time, so that a request in flight waits for the new master instead of failing.
A retried write may apply twice when the old master took it and died before answering:
the writes that go through here (cache entries, pull times and counts, lock renewals,
queue pushes that jobs.lease and claim() make harmless) tolerate that.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from harbor_py.core.runtime import SentinelConfig

_clients: dict[tuple[object, ...], redis.Redis] = {}
_lock = threading.Lock()
FAILOVER_WAIT_SECONDS = 10
# 0.1, 0.2, 0.4, 0.8 s, then 1 s apart: about 10 s in all.
_FAILOVER_RETRIES = 13


def client(*, timeout: float, wait_for_failover: bool = True) -> redis.Redis:
    """A shared, thread-safe client (redis-py pools reconnect after a fork by themselves).
    wait_for_failover=False: fail at once (the health check reports what it sees)."""
    config: SentinelConfig | None = settings.REDIS_SENTINEL
    key = (config, settings.REDIS_URL, timeout, wait_for_failover)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _clients[key] = _new_client(config, timeout, wait_for_failover)
    return found


def _new_client(config: SentinelConfig | None, timeout: float, wait: bool) -> redis.Redis:
    if config is None:
        return redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    sentinel = Sentinel(
        list(config.sentinels), socket_timeout=timeout, socket_connect_timeout=timeout
    )
    retries = _FAILOVER_RETRIES if wait else 0
    return sentinel.master_for(
        config.master,
        db=config.db,
        password=config.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )
