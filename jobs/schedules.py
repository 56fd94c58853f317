"""Harbor's /schedules: every job schedule, read from django-celery-beat's own table (the
schedules beat runs), each named by its job type and vendor id."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask

from jobs import queues
from jobs.registry import declared

SYSTEM_TASK = "jobs.tasks.run_scheduled"  # argument: the job type (GC, audit purge)


def _owners() -> dict[str, str]:
    """Celery task name -> job type, for the job types scheduled per vendor id."""
    return {job.schedule_task: job.vendor_type for job in declared() if job.schedule_task}


def periodic_tasks() -> QuerySet[PeriodicTask]:
    names = [SYSTEM_TASK, *_owners()]
    return PeriodicTask.objects.filter(task__in=names, crontab__isnull=False).order_by("pk")


def _cron(task: PeriodicTask) -> str:
    c = task.crontab
    return f"0 {c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def schedule_item(task: PeriodicTask) -> dict[str, Any]:
    try:
        args = json.loads(task.args or "[]")
    except ValueError:
        args = []
    if task.task == SYSTEM_TASK:
        vendor_type, vendor_id = (str(args[0]) if args else ""), 0
    else:
        vendor_type = _owners().get(task.task, "")
        vendor_id = int(args[0]) if args and str(args[0]).isdigit() else 0
    return {
        "id": task.pk,
        "vendor_type": vendor_type,
        "vendor_id": vendor_id,
        "cron": _cron(task),
        "update_time": task.date_changed.isoformat() if task.date_changed else None,
    }


def with_paused(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schedule items, each with whether its job type is paused (its scheduled runs
    wait in the queue until it is resumed): the paused set is read once."""
    held = queues.paused_types()
    return [{**item, "paused": item["vendor_type"] in held} for item in items]


def paused(job_type: str) -> bool:
    """Whether the scheduled runs of `job_type` (or of every job type: `all`) are held."""
    held = queues.paused_types()
    if job_type == "all":
        types = {job.vendor_type for job in declared()}
        return bool(types) and types <= held
    return job_type in held
