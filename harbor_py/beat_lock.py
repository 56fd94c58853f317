"""One Celery beat for the whole deployment, whatever the number of nodes that start one.

Every node may run `manage.py serve beat`; each waits for a lock in Redis, and only the
holder runs beat, renewing the lock while beat lives. If the holder's node dies, the lock
expires and another node's beat starts: schedules go on, and never fire twice because two
beats never run at once (django-celery-beat keeps the schedule itself in the database).
redis-py's Lock gives the compare-and-set renewal; this module only supervises the child.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time
from types import FrameType

from django.conf import settings
from redis.exceptions import LockError, RedisError

from harbor_py.core import redis_conn

logger = logging.getLogger(__name__)
LOCK_SECONDS = 30
RENEW_EVERY = 10
POLL_SECONDS = 2


def lock_name() -> str:
    return f"{settings.CACHES['default']['KEY_PREFIX']}:beat-leader"


def run_while_leader(argv: list[str], *, node: str = "") -> int:
    client = redis_conn.client(timeout=5)
    lock = client.lock(lock_name(), timeout=LOCK_SECONDS, thread_local=False)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        try:
            if lock.acquire(blocking=False):
                break
        except RedisError as exc:
            logger.warning("beat lock: redis unavailable (%s)", exc)
        time.sleep(POLL_SECONDS)
    else:
        return 0
    logger.warning("beat lock taken by %s: starting beat", node or "this node")
    child = subprocess.Popen(argv)
    code = 0
    try:
        while not stopping:
            try:
                exited = child.wait(timeout=RENEW_EVERY)
            except subprocess.TimeoutExpired:
                pass
            else:
                # beat ended on its own, e.g. its scheduler found no database while
                # PostgreSQL failed over: this node still leads, so beat starts again here
                # rather than the platform going without one until someone restarts it.
                logger.error("beat exited with %s: starting it again", exited)
                time.sleep(POLL_SECONDS)
                child = subprocess.Popen(argv)
            try:
                lock.extend(LOCK_SECONDS, replace_ttl=True)
            except (LockError, RedisError) as exc:
                # Another node may hold it now: two beats must never run together.
                logger.error("beat lock lost (%s): stopping beat", exc)
                code = 1
                break
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
        with contextlib.suppress(LockError, RedisError):
            lock.release()
    return code
