"""Thin Celery tasks: they call the runner and services."""

from __future__ import annotations

import contextlib

from celery import shared_task

from harbor_py.core.errors import DomainError
from jobs.models import Schedule, Trigger
from jobs.registry import known
from jobs.runner import enqueue, run_task

__all__ = ["resume_orphaned_tasks", "run_scheduled", "run_task"]


@shared_task
def resume_orphaned_tasks() -> None:
    """Enqueue again the running tasks whose worker stopped renewing its lease (not the
    pending ones of a paused job type: resuming it enqueues them)."""
    from jobs.lease import orphaned_task_ids
    from jobs.models import Task
    from jobs.queues import paused_types

    paused = paused_types()
    ids = orphaned_task_ids()
    found = Task.objects.filter(pk__in=ids).values_list("pk", "execution__vendor_type", "status")
    for task_id, vendor_type, status in found:
        if status == "Pending" and vendor_type in paused:
            continue
        enqueue(task_id, vendor_type)


@shared_task
def run_scheduled(vendor_type: str) -> None:
    from jobs.services import SCHEDULER, start_execution

    if not known(vendor_type):
        return  # its app is gone: the schedule waits, as a run would fail
    schedule = Schedule.objects.filter(vendor_type=vendor_type).first()
    # A conflict means the previous run is still going: skip this tick.
    with contextlib.suppress(DomainError):
        start_execution(
            vendor_type=vendor_type,
            parameters=schedule.parameters if schedule else {},
            trigger=Trigger.SCHEDULE,
            actor=SCHEDULER,
        )
