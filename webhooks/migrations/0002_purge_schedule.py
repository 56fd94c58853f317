"""Run webhooks.tasks.purge_executions hourly: executions (tasks, logs) older than the
setting webhook_execution_retention_days go."""

from django.db import migrations

from jobs.beat import interval_task


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        interval_task("harbor: purge webhook executions", "webhooks.tasks.purge_executions", 3600)
    ]
