"""Thin Celery tasks: scheduled and event-based runs of replication policies, and the
periodic health check of the registry endpoints."""

from __future__ import annotations

import contextlib
from typing import Any

from celery import shared_task

from harbor_py.core.errors import Code, DomainError
from jobs.models import Trigger
from jobs.services import SCHEDULER
from replication import services
from replication.local import REPLICATION
from replication.models import RegistryEndpoint, ReplicationPolicy

EVENT_RETRIES = 30


@shared_task
def run_scheduled_policy(policy_id: int) -> None:
    policy = ReplicationPolicy.objects.filter(pk=policy_id, enabled=True).first()
    if policy is None:
        return
    # A conflict means the previous run is still going: skip this tick.
    with contextlib.suppress(DomainError):
        services.start(policy=policy, trigger=Trigger.SCHEDULE, actor=SCHEDULER)


@shared_task(bind=True, max_retries=EVENT_RETRIES, acks_late=True)
def replicate_event(self: Any, policy_id: int, event: dict[str, Any], key: str = "") -> None:
    """`key`: the event's delivery key; an event delivered again (at least once) whose run
    exists already starts none."""
    policy = ReplicationPolicy.objects.filter(pk=policy_id, enabled=True).first()
    if policy is None:
        return
    if key and services.started_by_event(policy=policy, key=key):
        return
    try:
        services.start(
            policy=policy, trigger=Trigger.EVENT, event=event, event_key=key, actor=REPLICATION
        )
    except DomainError as exc:
        if exc.code != Code.CONFLICT:
            raise
        # One run per policy at a time: wait for the current one, then replicate this event.
        raise self.retry(countdown=min(2 ** min(self.request.retries, 5), 30)) from None


@shared_task
def refresh_registry_health() -> None:
    for endpoint in RegistryEndpoint.objects.order_by("pk"):
        services.refresh_health(endpoint=endpoint)
