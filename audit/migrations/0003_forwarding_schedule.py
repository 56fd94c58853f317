"""Run audit.tasks.forward_audit_log every 10 s: the safety net behind the run that each
commit starts (audit.forwarding)."""

from django.db import migrations

from jobs.beat import interval_task


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only_indexes_outbox"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [interval_task("harbor: forward audit log", "audit.tasks.forward_audit_log", 10)]
