"""Event-based replication: a consumer of the registry's events (harbor_py.core.events).
A push, an artifact deletion or a tag deletion runs the matching push-based event
policies; pull-based policies never react to events (the events are this instance's).
Subscribed in ReplicationConfig.ready; durable, so a lost worker loses no event.
`wanted` runs on every push and reads the policies from the cache (replication.policy_cache)."""

from __future__ import annotations

from typing import Any

from harbor_py.core.events import subscribe
from registry.events import ArtifactDeleted, ArtifactPushed, TagDeleted
from replication import filters
from replication.policy_cache import CACHE_KEY, Summary, cached, policies, summaries

RegistryEvent = ArtifactPushed | ArtifactDeleted | TagDeleted


def _as_dict(event: RegistryEvent) -> dict[str, Any]:
    """The event as replication's runs read it (and executions keep it, in parameters)."""
    if isinstance(event, ArtifactPushed):
        operation, tags = "push", list(event.tags)
    elif isinstance(event, ArtifactDeleted):
        operation, tags = "delete", list(event.tags)
    else:
        operation, tags = "delete_tag", [event.tag]
    return {
        "operation": operation,
        "repository": event.repository,
        "digest": event.digest,
        "tags": tags,
    }


def _matching(event: RegistryEvent, summaries: list[Summary]) -> list[int]:
    deleting = not isinstance(event, ArtifactPushed)
    return [
        pk
        for pk, replicate_deletion, policy_filters in summaries
        if (replicate_deletion or not deleting)
        and filters.parse(policy_filters).repository(event.repository)
    ]


def reads(event: RegistryEvent) -> str:
    return CACHE_KEY


def wanted(event: RegistryEvent) -> bool:
    """In the publisher's transaction: an outbox row only when a policy matches."""
    return bool(_matching(event, cached()))


def replicate(event: RegistryEvent, key: str) -> None:
    from replication.tasks import replicate_event

    for pk in _matching(event, summaries(policies())):
        replicate_event.delay(pk, _as_dict(event), key)


def subscribe_all() -> None:
    for event_type in (ArtifactPushed, ArtifactDeleted, TagDeleted):
        subscribe(
            event_type,
            replicate,
            name=f"replication.triggers:{event_type.name}",
            durable=True,
            wants=wanted,
            reads=reads,
        )
