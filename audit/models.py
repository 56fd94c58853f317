from __future__ import annotations

from django.db import models

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
            "registry",
            "replication_policy",
            "immutable_rule",
            "webhook",
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
        ],
        "pull": ["artifact"],
        "login": ["user"],
        "logout": ["user"],
    }.items()
    for resource in resources
}


class AuditLog(models.Model):
    """One append-only record of who did what. Written in the transaction of the change."""

    username = models.CharField(max_length=255)
    project_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    project_name = models.CharField(max_length=255, blank=True, default="")
    resource = models.CharField(max_length=1024)
    resource_type = models.CharField(max_length=64)
    operation = models.CharField(max_length=32)
    description = models.CharField(max_length=1024, blank=True, default="")
    success = models.BooleanField(default=True)
    client_address = models.CharField(max_length=64, blank=True, default="")
    op_time = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "audit_log"
        ordering = ["-op_time", "-id"]
