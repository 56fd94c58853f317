"""Event-based replication: a consumer of the registry's events (harbor_py.core.events).
A push, an artifact deletion or a tag deletion runs the matching push-based event
policies; pull-based policies never react to events (the events are this instance's).
Subscribed in ReplicationConfig.ready; durable, so a lost worker loses no event."""

from __future__ import annotations

from typing import Any

from harbor_py.core.db import fetch_all
from harbor_py.core.events import subscribe
from registry.events import ArtifactDeleted, ArtifactPushed, TagDeleted
from replication import filters
from replication.models import ReplicationPolicy

RegistryEvent = ArtifactPushed | ArtifactDeleted | TagDeleted


def _policies() -> list[ReplicationPolicy]:
    # Read on every push: a plain SELECT (harbor_py.core.db says why).
    return fetch_all(
        ReplicationPolicy,
        "enabled = %s AND trigger_type = %s AND src_registry_id IS NULL",
        [True, ReplicationPolicy.TriggerType.EVENT_BASED.value],
    )


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


def _matching(event: RegistryEvent) -> list[ReplicationPolicy]:
    deleting = not isinstance(event, ArtifactPushed)
    return [
        policy
        for policy in _policies()
        if (policy.replicate_deletion or not deleting)
        and filters.parse(policy.filters).repository(event.repository)
    ]


def wanted(event: RegistryEvent) -> bool:
    """In the publisher's transaction: an outbox row only when a policy matches."""
    return bool(_matching(event))


def replicate(event: RegistryEvent, key: str) -> None:
    from replication.tasks import replicate_event

    for policy in _matching(event):
        replicate_event.delay(policy.pk, _as_dict(event), key)


def subscribe_all() -> None:
    for event_type in (ArtifactPushed, ArtifactDeleted, TagDeleted):
        subscribe(
            event_type,
            replicate,
            name=f"replication.triggers:{event_type.name}",
            durable=True,
            wants=wanted,
        )
