from django.db import migrations

from jobs.beat import interval_task

PURGE_SECONDS = 3600  # how often the CVE export CSVs past their retention are deleted


class Migration(migrations.Migration):
    dependencies = [
        ("scanning", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        interval_task("harbor: purge CVE exports", "scanning.tasks.purge_exports", PURGE_SECONDS)
    ]
