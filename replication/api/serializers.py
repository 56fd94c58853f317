"""Harbor's shapes for endpoints, policies, executions and tasks, and the request bodies."""

from __future__ import annotations

import ssl
from typing import Any

from django.conf import settings
from rest_framework import serializers

from harbor_py.core.http import http_url_problem
from jobs.models import Execution, Status, Task, Trigger
from replication.models import RegistryEndpoint, ReplicationPolicy

MASK = "*****"
_time = serializers.DateTimeField()
STATUS: dict[str, str] = {  # Harbor's replication API names for the task manager's statuses
    Status.PENDING: "InProgress",
    Status.RUNNING: "InProgress",
    Status.STOPPED: "Stopped",
    Status.ERROR: "Failed",
    Status.SUCCESS: "Succeed",
    Status.SKIPPED: "Skipped",
}
TRIGGER: dict[str, str] = {
    Trigger.MANUAL: "manual",
    Trigger.SCHEDULE: "scheduled",
    Trigger.EVENT: "event_based",
}


def registry(endpoint: RegistryEndpoint | None) -> dict[str, Any]:
    if endpoint is None:  # this instance, as Harbor shows it
        return {
            "id": 0,
            "name": "Local",
            "type": "harbor",
            "url": settings.HARBOR["EXTERNAL_URL"],
            "insecure": True,
            "description": "",
            "status": "healthy",
            "credential": {"type": "", "access_key": "", "access_secret": ""},
            "creation_time": "0001-01-01T00:00:00.000Z",
            "update_time": "0001-01-01T00:00:00.000Z",
        }
    return {
        "id": endpoint.pk,
        "name": endpoint.name,
        "type": endpoint.type,
        "url": endpoint.url,
        "insecure": endpoint.insecure,
        "ca_certificate": endpoint.ca_certificate,
        "description": endpoint.description,
        "status": endpoint.status,
        "credential": {
            "type": endpoint.credential_type,
            "access_key": endpoint.access_key,
            "access_secret": MASK if endpoint.access_secret_encrypted else "",
        },
        "creation_time": _time.to_representation(endpoint.creation_time),
        "update_time": _time.to_representation(endpoint.update_time),
    }


def policy(item: ReplicationPolicy) -> dict[str, Any]:
    trigger: dict[str, Any] = {"type": item.trigger_type, "trigger_settings": {"cron": item.cron}}
    return {
        "id": item.pk,
        "name": item.name,
        "description": item.description,
        "src_registry": registry(item.src_registry),
        "dest_registry": registry(item.dest_registry),
        "dest_namespace": item.dest_namespace,
        "dest_namespace_replace_count": item.dest_namespace_replace_count,
        "trigger": trigger,
        "filters": item.filters,
        "replicate_deletion": item.replicate_deletion,
        "deletion": item.replicate_deletion,
        "override": item.override,
        "enabled": item.enabled,
        "speed": item.speed,
        "copy_by_chunk": item.copy_by_chunk,
        "single_active_replication": item.single_active_replication,
        "creation_time": _time.to_representation(item.creation_time),
        "update_time": _time.to_representation(item.update_time),
    }


def _when(value: Any) -> str:
    return _time.to_representation(value) if value else "0001-01-01T00:00:00.000Z"


def execution(item: Execution) -> dict[str, Any]:
    return {
        "id": item.pk,
        "policy_id": item.vendor_id,
        "status": STATUS.get(item.status, item.status),
        "trigger": TRIGGER.get(item.trigger, item.trigger.lower()),
        "start_time": _when(item.start_time),
        "end_time": _when(item.end_time),
        "status_text": item.status_message,
        "total": item.n_total,  # type: ignore[attr-defined]  # annotated by selectors
        "failed": item.n_failed,  # type: ignore[attr-defined]  # likewise
        "succeed": item.n_succeed,  # type: ignore[attr-defined]  # likewise
        "in_progress": item.n_in_progress,  # type: ignore[attr-defined]  # likewise
        "stopped": item.n_stopped,  # type: ignore[attr-defined]  # likewise
    }


def task(item: Task) -> dict[str, Any]:
    attrs = item.extra_attrs
    return {
        "id": item.pk,
        "execution_id": item.execution_id,
        "status": STATUS.get(item.status, item.status),
        "job_id": str(item.pk),
        "operation": attrs.get("operation", "copy"),
        "resource_type": attrs.get("resource_type", "image"),
        "src_resource": attrs.get("src_resource", ""),
        "dst_resource": attrs.get("dst_resource", ""),
        "start_time": _when(item.start_time),
        "end_time": _when(item.end_time),
    }


class CredentialBody(serializers.Serializer):
    type = serializers.CharField(required=False, default="basic")
    access_key = serializers.CharField(required=False, allow_blank=True, default="")
    access_secret = serializers.CharField(required=False, allow_blank=True, default="")


def _check_ca(value: str | None) -> str | None:
    if value:
        try:
            ssl.create_default_context(cadata=value)
        except (ssl.SSLError, ValueError):
            raise serializers.ValidationError("not a PEM CA certificate") from None
    return value


def _check_url(value: str) -> str:
    if problem := http_url_problem(value):
        raise serializers.ValidationError(f"the url must be an http(s) URL: {problem}")
    return value.rstrip("/")


class RegistryBody(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(choices=RegistryEndpoint.Type.values)
    url = serializers.CharField(max_length=512)
    insecure = serializers.BooleanField(required=False, default=False)
    ca_certificate = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", trim_whitespace=False
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    credential = CredentialBody(required=False)

    def validate_url(self, value: str) -> str:
        return _check_url(value)

    def validate_ca_certificate(self, value: str | None) -> str:
        return _check_ca(value) or ""


class RegistryUpdateBody(serializers.Serializer):
    name = serializers.CharField(max_length=255, required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    url = serializers.CharField(max_length=512, required=False, allow_null=True)
    credential_type = serializers.CharField(required=False, allow_null=True)
    access_key = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    access_secret = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    insecure = serializers.BooleanField(required=False, allow_null=True)
    ca_certificate = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, trim_whitespace=False
    )

    def validate_url(self, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    def validate_ca_certificate(self, value: str | None) -> str | None:
        return _check_ca(value)


class RegistryPingBody(RegistryUpdateBody):
    id = serializers.IntegerField(required=False, allow_null=True)
    type = serializers.ChoiceField(
        choices=RegistryEndpoint.Type.values, required=False, allow_null=True
    )


class RegistryRef(serializers.Serializer):
    id = serializers.IntegerField(required=False, allow_null=True, default=0)


class TriggerBody(serializers.Serializer):
    type = serializers.ChoiceField(choices=ReplicationPolicy.TriggerType.values, default="manual")
    trigger_settings = serializers.DictField(required=False, default=dict)


class PolicyBody(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    src_registry = RegistryRef(required=False, allow_null=True)
    dest_registry = RegistryRef(required=False, allow_null=True)
    dest_namespace = serializers.CharField(required=False, allow_blank=True, default="")
    dest_namespace_replace_count = serializers.IntegerField(required=False, default=-1)
    trigger = TriggerBody(required=False)
    filters = serializers.JSONField(required=False, default=list)  # type: ignore[arg-type]  # stubs want a mapping; DRF takes any callable
    replicate_deletion = serializers.BooleanField(required=False, default=False)
    deletion = serializers.BooleanField(required=False, default=False)
    override = serializers.BooleanField(required=False, default=True)
    enabled = serializers.BooleanField(required=False, default=True)
    speed = serializers.IntegerField(required=False, default=0, allow_null=True)
    copy_by_chunk = serializers.BooleanField(required=False, default=False, allow_null=True)
    single_active_replication = serializers.BooleanField(
        required=False, default=False, allow_null=True
    )


class StartBody(serializers.Serializer):
    policy_id = serializers.IntegerField()
