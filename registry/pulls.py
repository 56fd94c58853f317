"""Pull bookkeeping off the hot path.

A manifest GET only writes to Redis (one pipelined round trip, no database row lock):
the latest pull time per artifact and per tag, and a pull counter per repository.
`aggregate` (the Celery task registry.tasks.aggregate_pulls, run by beat) moves them
into the database in a few bulk UPDATEs.

Hand-over: the live hashes are renamed to `...:work` keys and the work keys are deleted
only after the database commit. If a run dies in between, the next run applies the work
keys again: pull times are idempotent, repository counters may count that batch twice.

Audit (pull_artifact): the same round trip also appends a compact event (id, time,
username, client address, project, repository, digest, tag) to a Redis list; `aggregate`
writes them as audit entries in bulk in the transaction of the pull times. The list is
handed over like the hashes (rename, delete after commit), so an event is lost only if
Redis loses it: at-least-once, and a replayed event adds nothing because its id is unique
in audit_log. Events wait in Redis while the database or the worker is down (about 200
bytes each). Turning pull logging off (disabled_audit_log_event_types contains
pull_artifact) applies when events are aggregated, so the pull itself never reads the
configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.db.models.fields import BigIntegerField, DateTimeField
from django.http import HttpRequest

from audit.services import Entry, record_many
from harbor_py.core import redis_conn
from harbor_py.core.actor import Actor
from harbor_py.core.events import has_consumers, publish
from harbor_py.core.http import client_address
from registry.events import ArtifactPulled
from registry.models import Artifact, Repository, Tag

logger = logging.getLogger(__name__)

KINDS = ("artifact", "tag", "repository")
EVENTS = "events"
CHUNK = 500
EVENT_CHUNK = 5000
LOCK_SECONDS = 300


@dataclass(frozen=True)
class PullEvent:
    """Who pulled what, for the audit log."""

    actor: Actor
    project_id: int
    repository: str
    digest: str
    tag: str = ""

    @classmethod
    def of(
        cls, request: HttpRequest, repository: Repository, artifact: Artifact, tag: Tag | None
    ) -> PullEvent:
        from registry.access import bearer_claims  # verified tokens are cached per process

        claims = bearer_claims(request)
        username = getattr(claims, "subject", "") or "anonymous"
        return cls(
            actor=Actor(username=username, client_address=client_address(request)),
            project_id=repository.project_id,
            repository=repository.name,
            digest=artifact.digest,
            tag=tag.name if tag is not None else "",
        )

    def encode(self, when: str) -> str:
        return json.dumps(
            [
                uuid.uuid4().hex,
                when,
                self.actor.username,
                self.actor.client_address,
                self.project_id,
                self.repository,
                self.digest,
                self.tag,
            ],
            separators=(",", ":"),
        )


def _entry(raw: bytes) -> Entry | None:
    try:
        event_id, when, username, address, project_id, repository, digest, tag = json.loads(raw)
        return Entry(
            username=username,
            operation="pull",
            resource_type="artifact",
            resource=f"{repository}:{tag}" if tag else f"{repository}@{digest}",
            project_id=project_id,
            project_name=repository.split("/", 1)[0],
            description=digest if tag else "",
            client_address=address,
            op_time=_as_time(when),
            event_id=uuid.UUID(event_id),
        )
    except (ValueError, TypeError):
        logger.warning("dropping a malformed pull event: %r", raw[:200])
        return None


def _redis() -> redis.Redis:
    return redis_conn.client(timeout=2)


def _key(kind: str, suffix: str = "") -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "harbor")
    return f"{prefix}:pulls:{kind}{suffix}"


def record_pull(
    *,
    repository_id: int,
    artifact_id: int,
    tag_id: int | None = None,
    event: PullEvent | None = None,
) -> None:
    """Remember one pull, and its audit event when given, in one round trip to Redis.
    Never raises: losing a pull time is better than failing a pull."""
    now = f"{dt.datetime.now(dt.UTC).timestamp():.6f}"
    try:
        pipe = _redis().pipeline(transaction=False)
        pipe.hset(_key("artifact"), str(artifact_id), now)
        if tag_id is not None:
            pipe.hset(_key("tag"), str(tag_id), now)
        pipe.hincrby(_key("repository"), str(repository_id), 1)
        if event is not None:
            pipe.rpush(_key(EVENTS), event.encode(now))
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
    return {int(k): v.decode() for k, v in client.hgetall(work).items()}  # type: ignore[union-attr]  # bytes: no decode_responses


def _take_events(client: redis.Redis) -> int:
    """Hand the event list over to the work key; returns how many events it holds."""
    live, work = _key(EVENTS), _key(EVENTS, ":work")
    if not client.exists(work):
        try:
            client.rename(live, work)
        except redis.ResponseError:
            return 0
    return int(client.llen(work))


def _events(client: redis.Redis, count: int) -> Iterator[list[bytes]]:
    work = _key(EVENTS, ":work")
    for start in range(0, count, EVENT_CHUNK):
        yield client.lrange(work, start, start + EVENT_CHUNK - 1)  # type: ignore[misc]  # bytes: no decode_responses


def _record_events(client: redis.Redis, count: int) -> int:
    written = 0
    for chunk in _events(client, count):
        entries = [e for e in map(_entry, chunk) if e is not None]
        written += record_many(entries)
    return written


def _chunks(items: Mapping[int, object]) -> Iterable[list[tuple[int, object]]]:
    pairs = list(items.items())
    for start in range(0, len(pairs), CHUNK):
        yield pairs[start : start + CHUNK]


def _set_times(model: type[Artifact] | type[Tag], times: dict[int, dt.datetime]) -> None:
    for chunk in _chunks(times):
        whens = [When(pk=pk, then=Value(when)) for pk, when in chunk]
        model.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            pull_time=Case(*whens, output_field=DateTimeField())
        )


def _add_counts(counts: dict[int, int]) -> None:
    for chunk in _chunks(counts):
        whens = [When(pk=pk, then=Value(n)) for pk, n in chunk]
        Repository.objects.filter(pk__in=[pk for pk, _ in chunk]).update(
            pull_count=F("pull_count") + Case(*whens, output_field=BigIntegerField())
        )


def _publish_pulls(times: dict[int, dt.datetime]) -> None:
    """artifact_pulled, one per artifact and aggregation window: from here rather than per
    pull, so that a pull writes nothing to the database (docs/events.md)."""
    if not times or not has_consumers(ArtifactPulled):
        return
    pulled = Artifact.objects.filter(pk__in=times).values_list("pk", "repository__name", "digest")
    for pk, repository, digest in pulled:
        publish(ArtifactPulled(repository, digest, times[pk].isoformat()))


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
        events = _take_events(client)
        with transaction.atomic():
            artifact_times = {k: _as_time(v) for k, v in taken["artifact"].items()}
            _set_times(Artifact, artifact_times)
            _publish_pulls(artifact_times)
            _set_times(Tag, {k: _as_time(v) for k, v in taken["tag"].items()})
            _add_counts({k: int(v) for k, v in taken["repository"].items()})
            audited = _record_events(client, events) if events else 0
        client.delete(*(_key(kind, ":work") for kind in (*KINDS, EVENTS)))
        result = {kind: len(rows) for kind, rows in taken.items()}
        if events:
            result["audit"] = audited
        return result
    finally:
        lock.release()
