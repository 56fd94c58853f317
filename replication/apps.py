from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Registry endpoints, replication policies and executions (issue: replication)."""

    name = "replication"
