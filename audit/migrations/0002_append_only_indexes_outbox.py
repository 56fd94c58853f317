"""Indexes for "newest first" lists, the forwarding outbox, event ids for queued entries,
and, on PostgreSQL, triggers that make audit_log append-only: UPDATE is always refused,
DELETE unless the transaction set harbor.audit_purge (only audit.purge does). No-op on
SQLite."""

import django.utils.timezone
import uuid
from django.db import migrations, models


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('harbor.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'entries are removed by the audit purge job only';
END;
$$;
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def append_only(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def allow_changes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditOutbox',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('payload', models.JSONField()),
                ('event_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('created', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'db_table': 'audit_outbox',
            },
        ),
        migrations.AddField(
            model_name='auditlog',
            name='event_id',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='auditlog',
            name='op_time',
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name='auditlog',
            name='project_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['-op_time', '-id'], name='audit_log_time'),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['project_id', '-op_time', '-id'], name='audit_log_project_time'),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['username', '-op_time', '-id'], name='audit_log_user_time'),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['operation', '-op_time', '-id'], name='audit_log_op_time'),
        ),
        migrations.AddIndex(
            model_name='auditlog',
            index=models.Index(fields=['resource_type', '-op_time', '-id'], name='audit_log_type_time'),
        ),
        migrations.AddConstraint(
            model_name='auditlog',
            constraint=models.UniqueConstraint(condition=models.Q(('event_id__isnull', False)), fields=('event_id',), name='audit_log_event_id'),
        ),
        migrations.RunPython(append_only, allow_changes),
    ]
