"""Event-based replication: registry code calls these when an artifact is pushed or
deleted; matching push-based event policies run after the change commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from registry.models import Artifact
from replication import filters
from replication.models import ReplicationPolicy


def _dispatch(event: dict[str, Any]) -> None:
    from replication.tasks import replicate_event

    policies = ReplicationPolicy.objects.filter(
        enabled=True,
        trigger_type=ReplicationPolicy.TriggerType.EVENT_BASED,
        src_registry__isnull=True,
    ).only("pk", "filters", "replicate_deletion")
    for policy in policies:
        if event["operation"] == "delete" and not policy.replicate_deletion:
            continue
        if filters.parse(policy.filters).repository(event["repository"]):
            replicate_event.delay(policy.pk, event)


def artifact_pushed(*, repository: str, digest: str, tag: str | None) -> None:
    event = {"operation": "push", "repository": repository, "digest": digest}
    event["tags"] = [tag] if tag else []
    transaction.on_commit(lambda: _dispatch(event))


def artifact_deleted(*, artifact: Artifact) -> None:
    """Call before the artifact's rows go (its tags are read here)."""
    event = {
        "operation": "delete",
        "repository": artifact.repository.name,
        "digest": artifact.digest,
        "tags": sorted(artifact.tags.values_list("name", flat=True)),
    }
    transaction.on_commit(lambda: _dispatch(event))
