"""Reads about retention policies and their runs."""

from __future__ import annotations

from django.db.models import QuerySet

from jobs.models import Execution, Task
from retention.models import RetentionPolicy
from retention.runs import CONTROLLER, VENDOR


def find_policy(policy_id: int) -> RetentionPolicy | None:
    return RetentionPolicy.objects.select_related("project").filter(pk=policy_id).first()


def policy_of_project(project_id: int) -> RetentionPolicy | None:
    return RetentionPolicy.objects.select_related("project").filter(project_id=project_id).first()


def executions(policy: RetentionPolicy) -> QuerySet[Execution]:
    return Execution.objects.filter(vendor_type=VENDOR, vendor_id=policy.pk).order_by(
        "-start_time", "-pk"
    )


def find_execution(policy: RetentionPolicy, execution_id: int) -> Execution | None:
    return executions(policy).filter(pk=execution_id).first()


def tasks(execution: Execution) -> QuerySet[Task]:
    """The repositories' tasks (the controller's is the execution's own log)."""
    return execution.tasks.exclude(extra_attrs__kind=CONTROLLER).order_by("pk")


def controller_log(execution: Execution) -> tuple[str, str]:
    """The run's own log: its lines and their records (jobs.context.JobContext.log)."""
    task = execution.tasks.filter(extra_attrs__kind=CONTROLLER).first()
    return (task.log, task.records) if task else ("", "")
