from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

# Harbor's event types: "<operation>_<resource_type>".
EVENT_TYPES = {
    f"{operation}_{resource}"
    for operation, resources in {
        "create": [
            "artifact",
            "project",
            "user",
            "robot",
            "tag",
            "project_member",
            "user_group",
            "label",
            "artifact_label",
            "registry",
            "replication_policy",
            "immutable_rule",
            "webhook",
            "gc_job",
            "purge_audit_job",
            "replication_job",
        ],
        "delete": [
            "artifact",
            "project",
            "user",
            "robot",
            "tag",
            "project_member",
            "user_group",
            "label",
            "artifact_label",
            "registry",
            "replication_policy",
            "immutable_rule",
            "webhook",
            "repository",
        ],
        "update": [
            "project",
            "user",
            "robot",
            "project_member",
            "user_group",
            "label",
            "configuration",
            "registry",
            "replication_policy",
            "immutable_rule",
            "webhook",
            "repository",
            "gc_schedule",
            "purge_audit_schedule",
            "gc_job",
            "purge_audit_job",
            "replication_job",
        ],
        "pull": ["artifact"],
        "login": ["user"],
        "logout": ["user"],
    }.items()
    for resource in resources
}


class AuditLog(models.Model):
    """One append-only record of who did what. Written in the transaction of the change
    (audit.services); never updated, deleted only by the purge job (audit.purge). On
    PostgreSQL a trigger refuses UPDATE, and DELETE outside the purge (migration 0002)."""

    username = models.CharField(max_length=255)
    project_id = models.BigIntegerField(null=True, blank=True)
    project_name = models.CharField(max_length=255, blank=True, default="")
    resource = models.CharField(max_length=1024)
    resource_type = models.CharField(max_length=64)
    operation = models.CharField(max_length=32)
    description = models.CharField(max_length=1024, blank=True, default="")
    success = models.BooleanField(default=True)
    client_address = models.CharField(max_length=64, blank=True, default="")
    # A default rather than auto_now_add: queued events (pulls) carry the time they happened.
    op_time = models.DateTimeField(default=timezone.now)
    # Set on entries that arrive through a queue (pulls): the queue is at-least-once, and
    # this id makes a replayed event a no-op (unique where set).
    event_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "audit_log"
        ordering = ["-op_time", "-id"]
        # Every list is "newest first" (op_time DESC, id DESC), alone or after an equality
        # filter: page 1 is an index range scan that stops after page_size rows.
        indexes = [
            models.Index(fields=["-op_time", "-id"], name="audit_log_time"),
            models.Index(fields=["project_id", "-op_time", "-id"], name="audit_log_project_time"),
            models.Index(fields=["username", "-op_time", "-id"], name="audit_log_user_time"),
            models.Index(fields=["operation", "-op_time", "-id"], name="audit_log_op_time"),
            models.Index(fields=["resource_type", "-op_time", "-id"], name="audit_log_type_time"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"],
                condition=models.Q(event_id__isnull=False),
                name="audit_log_event_id",
            )
        ]

    @property
    def event_type(self) -> str:
        return f"{self.operation}_{self.resource_type}"


class AuditOutbox(models.Model):
    """Entries waiting to be forwarded to the syslog endpoint (audit.forwarding). Written in
    the transaction of the entry (also when skip_audit_log_database keeps the entry itself
    out of audit_log), deleted once sent; `id` order is the sending order."""

    payload = models.JSONField()
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "audit_outbox"
