"""A scan waits for its next poll as a retry of its job (jobs.context.RetryLater), which
jobs' orphan sweep requeues when its message is lost: the sweep of scanning's own
deferred steps (`scanning.tasks.resume_polls`) is unscheduled, and the scans deferred by
the old code (task Running with no worker) become retries due now, which that sweep sends
(`scanning.tasks.continue_scan` still takes an old step message: scanning.scans.resume_deferred)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import migrations
from django.utils import timezone

from jobs.beat import interval_task

RESUME_POLLS = interval_task("harbor: resume scan polls", "scanning.tasks.resume_polls", 30)
STALE_SECONDS = 45  # jobs.lease.STALE_SECONDS when this was written


def unschedule_resume_polls(apps: Any, schema_editor: Any) -> None:
    RESUME_POLLS.reverse_code(apps, schema_editor)
    # tell a running beat (DatabaseScheduler): a historical model's delete sends no signal
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def deferred_to_retries(apps: Any, schema_editor: Any) -> None:
    task_model = apps.get_model("jobs", "Task")
    deferred = task_model.objects.filter(
        status="Running", worker="", execution__vendor_type__in=("IMAGE_SCAN", "SBOM")
    ).exclude(execution__status__in=("Success", "Error", "Stopped"))
    overdue = timezone.now() - dt.timedelta(seconds=STALE_SECONDS + 1)
    for task in deferred:
        retries = int(task.extra_attrs.get("retries", 0)) + 1
        task_model.objects.filter(pk=task.pk, status="Running", worker="").update(
            status="Pending",
            heartbeat=overdue,
            extra_attrs={**task.extra_attrs, "retries": retries},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scanning", "0003_scan_polls"),
        ("jobs", "0005_task_records"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(unschedule_resume_polls, RESUME_POLLS.code),
        migrations.RunPython(deferred_to_retries, migrations.RunPython.noop),
    ]
