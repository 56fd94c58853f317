from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The one Execution/Task model behind GC, audit purge, replication and later jobs
    (ARCHITECTURE.md §5), their schedules, and the Celery task that runs them."""

    name = "jobs"
