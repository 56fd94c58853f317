"""Single flight: one upstream fetch per manifest or blob at a time, across every process
of every node (a Redis lock), so that concurrent cold pulls cost one upstream request.

The leader holds the lock while it fetches (and extends it while a blob streams); the
others wait for the lock to go and then find the copy in the cache, or lead themselves
when the leader failed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from redis.lock import Lock

from harbor_py.core import redis_conn

LEASE_SECONDS = 30.0  # a leader that dies frees the flight after this
POLL_SECONDS = 0.05


def _lock(key: str) -> Lock:
    client = redis_conn.client(timeout=5.0)
    return client.lock(f"harbor:proxy:flight:{key}", timeout=LEASE_SECONDS, thread_local=False)


def try_lead(key: str) -> Lock | None:
    """The lock when this caller leads the flight, None when another one does."""
    lock = _lock(key)
    try:
        return lock if lock.acquire(blocking=False) else None
    except redis.RedisError:
        return lock  # no Redis: every caller leads (as without single flight)


def wait_for(key: str, deadline_seconds: float) -> None:
    """Until the leader of `key` is done (or the deadline passes)."""
    client = redis_conn.client(timeout=5.0)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if not client.exists(f"harbor:proxy:flight:{key}"):
                return
        except redis.RedisError:
            return
        time.sleep(POLL_SECONDS)


def release(lock: Lock) -> None:
    with suppress(redis.RedisError, redis.exceptions.LockError):
        lock.release()  # (expired meanwhile: the next caller leads)


def token_of(lock: Lock) -> str:
    """The leader's token: whoever holds it may end the flight (`release_token`), e.g.
    nginx's notice that a handed-over fetch ended (proxy_cache/blobs.py)."""
    token = lock.local.token
    return token.decode() if isinstance(token, bytes) else str(token)


def hand_over(lock: Lock, seconds: float) -> None:
    """The flight outlives this request: its lease is `seconds` from now."""
    with suppress(redis.RedisError, redis.exceptions.LockError):
        lock.extend(seconds, replace_ttl=True)


def _text(redis_key: str) -> str | None:
    try:
        found = redis_conn.client(timeout=5.0).get(redis_key)
    except redis.RedisError:
        return None
    return found.decode() if isinstance(found, bytes) else found


def holder(key: str) -> str | None:
    """The token of the flight `key`'s leader, None when nobody leads it."""
    return _text(f"harbor:proxy:flight:{key}")


def release_token(key: str, token: str) -> bool:
    """End the flight `key` if `token` still leads it."""
    lock = _lock(key)
    lock.local.token = token.encode()
    try:
        lock.do_release(lock.local.token)
    except (redis.RedisError, redis.exceptions.LockError):
        return False
    return True


def extend(lock: Lock) -> None:
    with suppress(redis.RedisError, redis.exceptions.LockError):
        lock.reacquire()


@contextmanager
def leading(key: str, deadline_seconds: float = 60.0) -> Iterator[None]:
    """Run the body as the leader: wait while another caller leads, then lead (the body
    checks the cache first: the leader before may have filled it)."""
    deadline = time.monotonic() + deadline_seconds
    lock = try_lead(key)
    while lock is None and time.monotonic() < deadline:
        wait_for(key, deadline - time.monotonic())
        lock = try_lead(key)
    try:
        yield  # past the deadline without the lock: fetch anyway rather than fail
    finally:
        if lock is not None:
            release(lock)


def remembered(key: str) -> str | None:
    """A value a leader left for the callers that waited on it (`remember`)."""
    return _text(f"harbor:proxy:memo:{key}")


def remember(key: str, value: str, seconds: float) -> None:
    with suppress(redis.RedisError):
        redis_conn.client(timeout=5.0).set(
            f"harbor:proxy:memo:{key}", value, px=int(seconds * 1000)
        )


def forget(key: str) -> None:
    with suppress(redis.RedisError):
        redis_conn.client(timeout=5.0).delete(f"harbor:proxy:memo:{key}")
