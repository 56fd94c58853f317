"""Thin Celery tasks: a policy's scheduled run."""

from __future__ import annotations

import contextlib

from celery import shared_task

from harbor_py.core.errors import DomainError
from jobs.models import Trigger
from jobs.services import SCHEDULER
from retention import services
from retention.models import RetentionPolicy


@shared_task(name="retention.tasks.run_scheduled_policy")
def run_scheduled_policy(policy_id: int) -> None:
    policy = RetentionPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        return
    # A conflict means the previous run of the policy is still going: skip this tick.
    with contextlib.suppress(DomainError):
        services.start(policy=policy, dry_run=False, actor=SCHEDULER, trigger=Trigger.SCHEDULE)
