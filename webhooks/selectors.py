"""Reads about webhook policies, their executions and the state of their targets."""

from __future__ import annotations

from typing import Any

from django.db.models import Max, QuerySet

from harbor_py.core.errors import not_found
from jobs.models import Execution, Task
from webhooks.delivery import VENDOR_TYPES
from webhooks.models import TargetState, WebhookPolicy


def project_policies(project_id: int) -> QuerySet[WebhookPolicy]:
    return WebhookPolicy.objects.filter(project_id=project_id).order_by("-creation_time", "-pk")


def policy(project_id: int, policy_id: int) -> WebhookPolicy:
    found = WebhookPolicy.objects.filter(project_id=project_id, pk=policy_id).first()
    if found is None:
        raise not_found(f"webhook policy {policy_id} not found")
    return found


def executions(policy: WebhookPolicy) -> QuerySet[Execution]:
    return Execution.objects.filter(vendor_type__in=VENDOR_TYPES, vendor_id=policy.pk)


def execution(policy: WebhookPolicy, execution_id: int) -> Execution:
    found = executions(policy).filter(pk=execution_id).first()
    if found is None:
        raise not_found(f"execution {execution_id} of webhook policy {policy.pk} not found")
    return found


def tasks(execution: Execution) -> QuerySet[Task]:
    return Task.objects.filter(execution=execution)


def task(execution: Execution, task_id: int) -> Task:
    found = tasks(execution).filter(pk=task_id).first()
    if found is None:
        raise not_found(f"task {task_id} of execution {execution.pk} not found")
    return found


def target_states(policy: WebhookPolicy) -> dict[str, TargetState]:
    return {s.address: s for s in TargetState.objects.filter(policy=policy)}


def last_triggers(project_id: int) -> list[dict[str, Any]]:
    """Harbor's WebhookLastTrigger rows: per policy and event type, the start of the last
    delivery of that event type (none yet: no last_trigger_time)."""
    rows = []
    for found in project_policies(project_id):
        last = dict(
            executions(found)
            .values_list("parameters__event_type")
            .annotate(last=Max("start_time"))
            .values_list("parameters__event_type", "last")
        )
        for event_type in found.event_types:
            row = {
                "policy_name": found.name,
                "event_type": event_type,
                "enabled": found.enabled,
                "creation_time": found.creation_time,
            }
            if last.get(event_type) is not None:
                row["last_trigger_time"] = last[event_type]
            rows.append(row)
    return rows


def recent_deliveries(policy: WebhookPolicy, limit: int = 10) -> list[Execution]:
    return list(executions(policy).order_by("-start_time", "-pk")[:limit])
