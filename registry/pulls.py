"""Pull bookkeeping off the hot path.

A manifest GET only writes to Redis (one pipelined round trip, no database row lock):
the latest pull time per artifact and per tag, and a pull counter per repository.
`aggregate` (the Celery task registry.tasks.aggregate_pulls, run by beat) moves them
into the database in a few bulk UPDATEs.

Hand-over: the live hashes are renamed to `...:work` keys and the work keys are deleted
only after the database commit. If a run dies in between, the next run applies the work
keys again: pull times are idempotent, repository counters may count that batch twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from functools import cache

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.fields import BigIntegerField, DateTimeField

from registry.models import Artifact, Repository, Tag

logger = logging.getLogger(__name__)

KINDS = ("artifact", "tag", "repository")
CHUNK = 500
LOCK_SECONDS = 300


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _key(kind: str, suffix: str = "") -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "harbor")
    return f"{prefix}:pulls:{kind}{suffix}"


def record_pull(*, repository_id: int, artifact_id: int, tag_id: int | None = None) -> None:
    """Remember one pull. Never raises: losing a pull time is better than failing a pull."""
    now = f"{dt.datetime.now(dt.UTC).timestamp():.6f}"
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hset(_key("artifact"), str(artifact_id), now)
        if tag_id is not None:
            pipe.hset(_key("tag"), str(tag_id), now)
        pipe.hincrby(_key("repository"), str(repository_id), 1)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("pull of artifact %s not recorded: %s", artifact_id, exc)


def _take(client: redis.Redis, kind: str) -> dict[int, str]:
    live, work = _key(kind), _key(kind, ":work")
    if not client.exists(work):
        try:
            client.rename(live, work)
        except redis.ResponseError:  # no such key: nothing pulled since the last run
            return {}
    return {int(k): v.decode() for k, v in client.hgetall(work).items()}


def _chunks(items: dict[int, object]) -> Iterable[list[tuple[int, object]]]:
    pairs = list(items.items())
    for start in range(0, len(pairs), CHUNK):
        yield pairs[start : start + CHUNK]


def _set_times(model: type[Artifact] | type[Tag], times: dict[int, dt.datetime]) -> None:
    for chunk in _chunks(times):  # type: ignore[arg-type]
        whens = [When(pk=pk, then=Value(when)) for pk, when in chunk]
        model.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            pull_time=Case(*whens, output_field=DateTimeField())
        )


def _add_counts(counts: dict[int, int]) -> None:
    for chunk in _chunks(counts):  # type: ignore[arg-type]
        whens = [When(pk=pk, then=Value(n)) for pk, n in chunk]
        Repository.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            pull_count=F("pull_count") + Case(*whens, output_field=BigIntegerField())
        )


def _as_time(raw: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(raw), tz=dt.UTC)


def aggregate() -> dict[str, int]:
    """Apply the recorded pulls to the database; returns how many rows of each kind."""
    client = _redis()
    lock = client.lock(_key("lock"), timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return {}
    try:
        taken = {kind: _take(client, kind) for kind in KINDS}
        with transaction.atomic():
            _set_times(Artifact, {k: _as_time(v) for k, v in taken["artifact"].items()})
            _set_times(Tag, {k: _as_time(v) for k, v in taken["tag"].items()})
            _add_counts({k: int(v) for k, v in taken["repository"].items()})
        client.delete(*(_key(kind, ":work") for kind in KINDS))
        return {kind: len(rows) for kind, rows in taken.items()}
    finally:
        lock.release()
