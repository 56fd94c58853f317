"""Harbor's shapes of webhook policies, executions, tasks and jobs."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from harbor_py.core import secretbox
from jobs.models import Execution, Task
from webhooks.models import WebhookPolicy

_time = serializers.DateTimeField()
ZERO_TIME = "0001-01-01T00:00:00.000Z"


def when(value: Any) -> str:
    return _time.to_representation(value) if value else ZERO_TIME


def _auth(stored: str) -> str:
    try:
        return secretbox.decrypt(stored) if stored else ""
    except ValueError:  # written under another SECRET_KEY
        return ""


def policy(item: WebhookPolicy) -> dict[str, Any]:
    return {
        "id": item.pk,
        "name": item.name,
        "description": item.description,
        "project_id": item.project_id,
        "targets": [
            {
                "type": t["type"],
                "address": t["address"],
                "auth_header": _auth(t.get("auth_header", "")),
                "skip_cert_verify": t.get("skip_cert_verify", False),
                "payload_format": t.get("payload_format", "Default"),
            }
            for t in item.targets
        ],
        "event_types": item.event_types,
        "creator": item.creator,
        "creation_time": when(item.creation_time),
        "update_time": when(item.update_time),
        "enabled": item.enabled,
    }


def execution(item: Execution) -> dict[str, Any]:
    return {
        "id": item.pk,
        "vendor_type": item.vendor_type,
        "vendor_id": item.vendor_id,
        "status": item.status,
        "status_message": item.status_message,
        "trigger": item.trigger,
        "extra_attrs": item.extra_attrs,
        "start_time": when(item.start_time),
        "end_time": when(item.end_time),
    }


def task(item: Task) -> dict[str, Any]:
    return {
        "id": item.pk,
        "execution_id": item.execution_id,
        "status": item.status,
        "status_message": item.status_message,
        "run_count": item.run_count,
        "extra_attrs": item.extra_attrs,
        "creation_time": when(item.creation_time),
        "update_time": when(item.update_time),
        "start_time": when(item.start_time),
        "end_time": when(item.end_time),
    }


def job(item: Execution) -> dict[str, Any]:
    """The deprecated /webhook/jobs shape of a delivery."""
    return {
        "id": item.pk,
        "policy_id": item.vendor_id,
        "event_type": item.parameters.get("event_type", ""),
        "notify_type": "slack" if item.vendor_type == "SLACK" else "http",
        "status": item.status,
        "job_detail": item.parameters.get("payload", ""),
        "creation_time": when(item.start_time),
        "update_time": when(item.end_time or item.start_time),
    }


def last_trigger(row: dict[str, Any]) -> dict[str, Any]:
    shaped = {**row, "creation_time": when(row["creation_time"])}
    if "last_trigger_time" in row:
        shaped["last_trigger_time"] = when(row["last_trigger_time"])
    return shaped
