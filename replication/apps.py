from django.apps import AppConfig


class ReplicationConfig(AppConfig):
    """Registry endpoints, replication policies and their runs (ARCHITECTURE.md §6)."""

    name = "replication"

    def ready(self) -> None:
        from jobs.registry import register
        from replication import runs, triggers
        from replication.services import VENDOR

        register(VENDOR, runs.run)
        triggers.subscribe_all()
