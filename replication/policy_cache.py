"""The event-based policies that a push asks about, cached (replication.triggers).

Every push asks whether an event policy wants it, in its transaction. The answer comes from
the cache (`cached`, no SQL: one Redis GET, which the event's other consumers share through
harbor_py.core.read_ahead), refilled by one SELECT on a miss and dropped whenever a policy
is written (`forget`, as webhooks' `wanted_types` is). The delivery, in a worker, reads
the policies from the database (`summaries(policies())`).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction

from harbor_py.core import read_ahead
from harbor_py.core.db import fetch_all
from replication.models import ReplicationPolicy

CACHE_KEY = "replication:event-policies"
CACHE_SECONDS = 300  # bounds a stale entry's life if an invalidation was ever lost

Summary = tuple[int, bool, Any]  # a policy's id, replicate_deletion and filters


def policies() -> list[ReplicationPolicy]:
    """The enabled event-based policies of pushes into this instance: a plain SELECT
    (harbor_py.core.db says why)."""
    return fetch_all(
        ReplicationPolicy,
        "enabled = %s AND trigger_type = %s AND src_registry_id IS NULL",
        [True, ReplicationPolicy.TriggerType.EVENT_BASED.value],
    )


def summaries(found: list[ReplicationPolicy]) -> list[Summary]:
    return [(p.pk, p.replicate_deletion, p.filters) for p in found]


def cached() -> list[Summary]:
    found = read_ahead.get(CACHE_KEY)
    if found is not None:
        return found  # as summaries() made them
    made = summaries(policies())
    cache.set(CACHE_KEY, made, CACHE_SECONDS)
    return made


def forget() -> None:
    """After a write of a policy: drop the cached ones now, and again after commit (a reader
    in between may have refilled the cache from the rows before the change)."""
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY), robust=True)
