"""Event-based replication: registry code calls these when an artifact is pushed or
deleted, or a tag is deleted; matching push-based event policies run after the change
commits. Pull-based policies never react to events (the events are this instance's)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from harbor_py.core.db import fetch_all
from registry.models import Artifact, Tag
from replication import filters
from replication.models import ReplicationPolicy


def _dispatch(event: dict[str, Any]) -> None:
    from replication.tasks import replicate_event

    # Read after every push: a plain SELECT (harbor_py.core.db says why).
    policies = fetch_all(
        ReplicationPolicy,
        "enabled = %s AND trigger_type = %s AND src_registry_id IS NULL",
        [True, ReplicationPolicy.TriggerType.EVENT_BASED.value],
    )
    for policy in policies:
        if event["operation"] != "push" and not policy.replicate_deletion:
            continue
        if filters.parse(policy.filters).repository(event["repository"]):
            replicate_event.delay(policy.pk, event)


def artifact_pushed(*, repository: str, digest: str, tag: str | None) -> None:
    event: dict[str, Any] = {"operation": "push", "repository": repository, "digest": digest}
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


def tag_deleted(*, tag: Tag) -> None:
    """A tag alone was deleted (its artifact stays): the destination loses the tag."""
    event = {
        "operation": "delete_tag",
        "repository": tag.repository.name,
        "digest": tag.artifact.digest,
        "tags": [tag.name],
    }
    transaction.on_commit(lambda: _dispatch(event))
