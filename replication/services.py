"""Writes: registry endpoints, policies (with their beat schedule), starting and stopping
runs. Keyword-only, one transaction each with its audit record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, conflict
from jobs import services as job_services
from jobs.models import Execution, Status, Trigger
from projects.models import Project
from replication import policy_cache
from replication.adapters.base import TransferError, open_adapter
from replication.models import RegistryEndpoint, ReplicationPolicy

VENDOR = "REPLICATION"
REGISTRY_FIELDS = (
    "name",
    "type",
    "url",
    "access_key",
    "insecure",
    "ca_certificate",
    "description",
)
SKIPPED_MESSAGE = "Execution skipped: active replication still in progress."
POLICY_FIELDS = (
    "name",
    "description",
    "src_registry",
    "dest_registry",
    "dest_namespace",
    "dest_namespace_replace_count",
    "filters",
    "trigger_type",
    "cron",
    "replicate_deletion",
    "override",
    "enabled",
    "speed",
    "copy_by_chunk",
    "single_active_replication",
)


def _audit(*, actor: Actor, operation: str, kind: str, name: str) -> None:
    record(actor=actor, operation=operation, resource_type=kind, resource=name)


def _unique(model: type[Any], name: str, exclude: int | None = None) -> None:
    found = model.objects.filter(name=name)
    if exclude is not None:
        found = found.exclude(pk=exclude)
    if found.exists():
        raise conflict(f"{name} already exists", key="name.taken", params={"name": name})


def _assign(instance: Any, fields: Iterable[str], values: dict[str, Any]) -> None:
    """Set the `fields` present in `values`; a new name must not be taken."""
    if "name" in values:
        _unique(type(instance), values["name"], exclude=instance.pk)
    for key in fields:
        if key in values:
            setattr(instance, key, values[key])


@transaction.atomic
def create_registry(
    *, values: dict[str, Any], access_secret: str, actor: Actor
) -> RegistryEndpoint:
    _unique(RegistryEndpoint, values["name"])
    endpoint = RegistryEndpoint(**{k: values[k] for k in REGISTRY_FIELDS if k in values})
    endpoint.access_secret = access_secret
    endpoint.save()
    _audit(actor=actor, operation="create", kind="registry", name=endpoint.name)
    return endpoint


@transaction.atomic
def update_registry(
    *,
    endpoint: RegistryEndpoint,
    values: dict[str, Any],
    access_secret: str | None,
    actor: Actor,
) -> RegistryEndpoint:
    """`values` holds the fields to change; `access_secret` None keeps the stored one."""
    _assign(endpoint, REGISTRY_FIELDS, values)
    if access_secret is not None:
        endpoint.access_secret = access_secret
    endpoint.save()
    _audit(actor=actor, operation="update", kind="registry", name=endpoint.name)
    return endpoint


@transaction.atomic
def set_registry_status(*, endpoint: RegistryEndpoint, status: str) -> None:
    RegistryEndpoint.objects.filter(pk=endpoint.pk).update(status=status)


HEALTH_TIMEOUT_SECONDS = 15.0


def refresh_health(*, endpoint: RegistryEndpoint) -> str:
    """Ping the endpoint (GET /v2/ with its credentials) and record healthy/unhealthy."""
    status = "healthy"
    try:
        remote = open_adapter(endpoint)
        remote.client.timeout = httpx.Timeout(HEALTH_TIMEOUT_SECONDS)
        try:
            remote.ping()
        finally:
            remote.close()
    except TransferError:
        status = "unhealthy"
    if status != endpoint.status:
        set_registry_status(endpoint=endpoint, status=status)
    return status


@transaction.atomic
def delete_registry(*, endpoint: RegistryEndpoint, actor: Actor) -> None:
    used = ReplicationPolicy.objects.filter(Q(src_registry=endpoint) | Q(dest_registry=endpoint))
    if used.exists():
        raise DomainError(
            Code.PRECONDITION,
            f"the registry {endpoint.name} is referenced by policies",
            key="registry.in_use",
            params={"name": endpoint.name},
        )
    if Project.objects.filter(registry_id=endpoint.pk).exists():
        raise DomainError(
            Code.PRECONDITION,
            f"the registry {endpoint.name} is used by proxy-cache projects",
            key="registry.proxied",
            params={"name": endpoint.name},
        )
    endpoint.delete()
    _audit(actor=actor, operation="delete", kind="registry", name=endpoint.name)


def _check_policy(policy: ReplicationPolicy) -> None:
    if (policy.src_registry_id is None) == (policy.dest_registry_id is None):
        raise bad_request("exactly one of src_registry and dest_registry must be a remote registry")
    if policy.dest_namespace_replace_count < -1 or policy.dest_namespace_replace_count > 3:
        raise bad_request("dest_namespace_replace_count must be between -1 and 3")
    if policy.speed < 0:
        raise bad_request("speed must not be negative")
    if policy.trigger_type == ReplicationPolicy.TriggerType.SCHEDULED and not policy.cron:
        raise bad_request("a scheduled trigger needs trigger_settings.cron", key="cron.required")


def _schedule(policy: ReplicationPolicy) -> None:
    """One django-celery-beat task per scheduled, enabled policy."""
    scheduled = policy.enabled and policy.trigger_type == ReplicationPolicy.TriggerType.SCHEDULED
    policy.periodic_task = job_services.replace_beat_task(
        policy.periodic_task_id,
        name=f"harbor-replication-policy-{policy.pk}",
        task="replication.tasks.run_scheduled_policy",
        cron=policy.cron if scheduled else "",
        args=[policy.pk],
    )
    ReplicationPolicy.objects.filter(pk=policy.pk).update(periodic_task=policy.periodic_task)


def _save_policy(policy: ReplicationPolicy, actor: Actor, operation: str) -> ReplicationPolicy:
    _check_policy(policy)
    policy.save()
    policy_cache.forget()
    _schedule(policy)
    _audit(actor=actor, operation=operation, kind="replication_policy", name=policy.name)
    return policy


@transaction.atomic
def create_policy(*, values: dict[str, Any], actor: Actor) -> ReplicationPolicy:
    _unique(ReplicationPolicy, values["name"])
    policy = ReplicationPolicy(**{k: values[k] for k in POLICY_FIELDS if k in values})
    return _save_policy(policy, actor, "create")


@transaction.atomic
def update_policy(
    *, policy: ReplicationPolicy, values: dict[str, Any], actor: Actor
) -> ReplicationPolicy:
    # One update at a time, each replacing the beat task the one before it made (its name
    # is the policy's): read unlocked, two deleted the same old task and both created one.
    locked = ReplicationPolicy.objects.select_for_update().get(pk=policy.pk)
    policy.periodic_task_id = locked.periodic_task_id
    _assign(policy, POLICY_FIELDS, values)
    return _save_policy(policy, actor, "update")


@transaction.atomic
def delete_policy(*, policy: ReplicationPolicy, actor: Actor) -> None:
    if Execution.objects.filter(
        vendor_type=VENDOR, vendor_id=policy.pk, status__in=["Pending", "Running"]
    ).exists():
        raise DomainError(
            Code.PRECONDITION,
            f"the policy {policy.name} has running executions",
            key="policy.running",
            params={"name": policy.name},
        )
    if policy.periodic_task_id:
        PeriodicTask.objects.filter(pk=policy.periodic_task_id).delete()
    policy.delete()
    policy_cache.forget()
    _audit(actor=actor, operation="delete", kind="replication_policy", name=policy.name)


@transaction.atomic
def start(
    *,
    policy: ReplicationPolicy,
    trigger: str = Trigger.MANUAL,
    event: dict[str, Any] | None = None,
    event_key: str = "",
    actor: Actor,
) -> Execution:
    """One execution of the policy. Executions of one policy may overlap, as in Harbor,
    unless single_active_replication: then a start while one is active is recorded as a
    Skipped execution (Harbor's), except for an event, which gets a 409 so that its
    Celery task waits for the active run instead of losing its artifact."""
    if not policy.enabled:
        raise bad_request(
            f"the policy {policy.name} is disabled",
            key="policy.disabled",
            params={"name": policy.name},
        )
    parameters: dict[str, Any] = {"policy_id": policy.pk}
    if event:
        parameters["event"] = event
    if event_key:
        parameters["event_key"] = event_key
    if policy.single_active_replication:
        # the policy's row serializes concurrent starts of the same policy
        ReplicationPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        active = Execution.objects.filter(
            vendor_type=VENDOR, vendor_id=policy.pk, status__in=[Status.PENDING, Status.RUNNING]
        )
        if active.exists():
            if event:
                raise conflict(
                    f"a replication of the policy {policy.name} is in progress",
                    key="policy.in_progress",
                    params={"name": policy.name},
                )
            return _skipped(policy=policy, trigger=trigger, parameters=parameters)
    return job_services.start_execution(
        vendor_type=VENDOR,
        vendor_id=policy.pk,
        parameters=parameters,
        trigger=trigger,
        actor=actor,
    )


def started_by_event(*, policy: ReplicationPolicy, key: str) -> bool:
    executions = Execution.objects.filter(vendor_type=VENDOR, vendor_id=policy.pk)
    return executions.filter(parameters__event_key=key).exists()


def _skipped(*, policy: ReplicationPolicy, trigger: str, parameters: dict[str, Any]) -> Execution:
    return Execution.objects.create(
        vendor_type=VENDOR,
        vendor_id=policy.pk,
        trigger=trigger,
        parameters=parameters,
        status=Status.SKIPPED,
        status_message=SKIPPED_MESSAGE,
        end_time=timezone.now(),
    )
