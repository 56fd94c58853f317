from django.apps import AppConfig


class RetentionConfig(AppConfig):
    """Tag retention: one policy per project, Harbor's rules, run as executions with one
    task per repository (docs/retention.md)."""

    name = "retention"
    verbose_name = "Tag retention"

    def ready(self) -> None:
        from jobs.registry import JobType, declare
        from retention.runs import VENDOR, run

        # one execution per policy at a time (vendor id = the policy's id)
        declare(
            JobType(
                VENDOR,
                run,
                audit_name="retention",
                writes_registry=True,
                schedule_task="retention.tasks.run_scheduled_policy",
            )
        )
