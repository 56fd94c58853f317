"""Schedule the batch reading of image configs (registry.tasks.read_pending_configs) every 5 s."""

from django.db import migrations

from jobs.beat import interval_task


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_pull_aggregation_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [interval_task("harbor: read pending image configs", "registry.tasks.read_pending_configs", 5)]
