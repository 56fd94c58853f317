from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The one Execution/Task model behind GC, audit purge, replication and later jobs
    (ARCHITECTURE.md §5), their schedules, and the Celery task that runs them."""

    name = "jobs"

    def ready(self) -> None:
        from celery.signals import celeryd_after_setup

        from jobs.queues import consume_on_start

        # a worker consumes the queue of every job type that is not paused
        celeryd_after_setup.connect(consume_on_start, weak=False)
