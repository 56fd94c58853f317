"""The Redis set of artifacts whose image config is read after their push, in batches
(registry.pending_configs): the push adds to it, the batch task takes from it."""

from __future__ import annotations

import logging

import redis
from django.conf import settings

from harbor_py.core import redis_conn

logger = logging.getLogger(__name__)


def _redis() -> redis.Redis:
    return redis_conn.client(timeout=2)


def _key() -> str:
    # The key the pull-time buffers' prefix gives it (registry.pulls), kept across versions.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "harbor")
    return f"{prefix}:pulls:configs"


def add(artifact_id: int) -> None:
    """Never raises: an artifact without extra_attrs is better than a failed push."""
    try:
        _redis().sadd(_key(), str(artifact_id))
    except redis.RedisError as exc:
        logger.warning("config of artifact %s not queued: %s", artifact_id, exc)


def take(count: int) -> list[int]:
    return [int(i) for i in _redis().spop(_key(), count) or []]
