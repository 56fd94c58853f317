"""Data-migration operations that keep a periodic Celery task in django-celery-beat's tables.

    operations = [interval_task("harbor: aggregate pulls", "registry.tasks.aggregate_pulls", 10)]

Idempotent: applying it again, or after an admin changed the interval, keeps the row.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone


def interval_task(name: str, task: str, every_seconds: int) -> migrations.RunPython:
    def schedule(apps: Any, schema_editor: Any) -> None:
        interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
        periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
        interval, _ = interval_model.objects.get_or_create(every=every_seconds, period="seconds")
        _, created = periodic_task.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )
        if created:
            # Tell a running beat (DatabaseScheduler) that its schedule changed.
            apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
                ident=1, defaults={"last_update": timezone.now()}
            )

    def unschedule(apps: Any, schema_editor: Any) -> None:
        apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name).delete()

    return migrations.RunPython(schedule, unschedule)
