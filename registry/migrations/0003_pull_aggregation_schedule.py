"""Schedule the aggregation of recorded pulls (registry.tasks.aggregate_pulls) every 10 s."""

from django.db import migrations

from jobs.beat import interval_task


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_labels_additions"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [interval_task("harbor: aggregate pulls", "registry.tasks.aggregate_pulls", 10)]
