"""Schedule the aggregation of recorded pulls (registry.tasks.aggregate_pulls) with
django-celery-beat. Idempotent: running it again, or after an admin changed the interval,
keeps the existing rows."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "harbor: aggregate pulls"
TASK = "registry.tasks.aggregate_pulls"
EVERY_SECONDS = 10


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval, _ = IntervalSchedule.objects.get_or_create(every=EVERY_SECONDS, period="seconds")
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={"task": TASK, "interval": interval, "enabled": True},
    )
    if created:
        # Tell a running beat (DatabaseScheduler) that its schedule changed.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_labels_additions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
