from django.db import migrations, models

from jobs.beat import interval_task


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_skipped_and_replication_concurrency"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="worker",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="task",
            name="heartbeat",
            field=models.DateTimeField(blank=True, null=True),
        ),
        interval_task("harbor: resume orphaned jobs", "jobs.tasks.resume_orphaned_tasks", 15),
    ]
