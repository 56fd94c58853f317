"""What a webhook sends: Harbor's event types, the event data Harbor gives each, and the
three payload formats (Harbor's default JSON, CloudEvents 1.0 structured, Slack).

A `Notification` is built once per event and project (webhooks.consumers); each target
then gets it in its own format (`render`). docs/webhooks.md shows every payload."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

# Harbor's event types, in the order its /webhook/events lists them.
PUSH_ARTIFACT = "PUSH_ARTIFACT"
PULL_ARTIFACT = "PULL_ARTIFACT"
DELETE_ARTIFACT = "DELETE_ARTIFACT"
QUOTA_EXCEED = "QUOTA_EXCEED"
QUOTA_WARNING = "QUOTA_WARNING"
REPLICATION = "REPLICATION"
TAG_RETENTION = "TAG_RETENTION"
SCANNING_COMPLETED = "SCANNING_COMPLETED"
SCANNING_FAILED = "SCANNING_FAILED"
SCANNING_STOPPED = "SCANNING_STOPPED"

EVENT_TYPES = (
    DELETE_ARTIFACT,
    PULL_ARTIFACT,
    PUSH_ARTIFACT,
    QUOTA_EXCEED,
    QUOTA_WARNING,
    REPLICATION,
    SCANNING_FAILED,
    SCANNING_COMPLETED,
    SCANNING_STOPPED,
    TAG_RETENTION,
)

# CloudEvents `type` as Harbor names them.
CLOUDEVENT_TYPES = {
    PUSH_ARTIFACT: "harbor.artifact.pushed",
    PULL_ARTIFACT: "harbor.artifact.pulled",
    DELETE_ARTIFACT: "harbor.artifact.deleted",
    QUOTA_EXCEED: "harbor.quota.exceed",
    QUOTA_WARNING: "harbor.quota.warning",
    REPLICATION: "harbor.replication.status.changed",
    TAG_RETENTION: "harbor.tag_retention.finished",
    SCANNING_COMPLETED: "harbor.scan.completed",
    SCANNING_FAILED: "harbor.scan.failed",
    SCANNING_STOPPED: "harbor.scan.stopped",
}

HTTP, SLACK = "http", "slack"
DEFAULT, CLOUDEVENTS = "Default", "CloudEvents"
NOTIFY_TYPES = (HTTP, SLACK)
FORMATS = {HTTP: (DEFAULT, CLOUDEVENTS), SLACK: (DEFAULT,)}


@dataclass(frozen=True)
class Notification:
    event_id: str  # the same for every policy, target and retry of one event
    event_type: str  # Harbor's, e.g. PUSH_ARTIFACT
    project: str
    occur_at: int  # Unix seconds, as Harbor
    operator: str
    event_data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "project": self.project,
            "occur_at": self.occur_at,
            "operator": self.operator,
            "event_data": self.event_data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Notification:
        return cls(**raw)


def repository_data(full_name: str, *, public: bool, created: int | None) -> dict[str, Any]:
    namespace, _, name = full_name.partition("/")
    data: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "repo_full_name": full_name,
        "repo_type": "public" if public else "private",
    }
    if created is not None:
        data["date_created"] = created
    return data


def default_body(note: Notification) -> dict[str, Any]:
    """Harbor's default payload."""
    return {
        "type": note.event_type,
        "occur_at": note.occur_at,
        "operator": note.operator,
        "event_data": note.event_data,
    }


def cloudevent(note: Notification, *, project_id: int, policy_id: int, sequence: int) -> CloudEvent:
    attributes: dict[str, Any] = {
        "id": note.event_id,
        "source": f"/projects/{project_id}/webhook/policies/{policy_id}",
        "type": CLOUDEVENT_TYPES[note.event_type],
        "datacontenttype": "application/json",
        "time": dt.datetime.fromtimestamp(note.occur_at, tz=dt.UTC),
        "operator": note.operator,
        # the CloudEvents sequence extension: this target's delivery order, as a string
        "sequence": str(sequence),
    }
    return CloudEvent(attributes, note.event_data)


def slack_body(note: Notification) -> dict[str, Any]:
    """Slack's block kit message, as Harbor's Slack template builds it."""
    occurred = dt.datetime.fromtimestamp(note.occur_at, tz=dt.UTC).isoformat()
    text = (
        f"*event_type:* {note.event_type}\n*occur_at:* {occurred}\n"
        f"*operator:* {note.operator}\n*event_data:*\n"
        f"```{json.dumps(note.event_data, indent=2, sort_keys=True)}```"
    )
    return {
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Harbor webhook events"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ]
    }


def render(
    note: Notification,
    *,
    notify_type: str,
    payload_format: str,
    project_id: int,
    policy_id: int,
    sequence: int,
) -> tuple[bytes, str]:
    """(body, content type) of `note` for a target of this type and format."""
    if notify_type == SLACK:
        return json.dumps(slack_body(note)).encode(), "application/json"
    if payload_format == CLOUDEVENTS:
        message = to_structured_event(
            cloudevent(note, project_id=project_id, policy_id=policy_id, sequence=sequence)
        )
        return message.body, message.headers.get("content-type", "application/cloudevents+json")
    return json.dumps(default_body(note)).encode(), "application/json"
