"""Reads: endpoints, policies, executions and their artifact tasks with Harbor's counts."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from harbor_py.core.errors import not_found
from jobs.models import Execution, Status, Task
from replication.models import RegistryEndpoint, ReplicationPolicy
from replication.services import VENDOR

CONTROLLER = "controller"  # extra_attrs["kind"] of the runner's own task


def endpoint(pk: int) -> RegistryEndpoint:
    found = RegistryEndpoint.objects.filter(pk=pk).first()
    if found is None:
        raise not_found(f"registry {pk} not found")
    return found


def policy(pk: int) -> ReplicationPolicy:
    found = ReplicationPolicy.objects.select_related("src_registry", "dest_registry").filter(pk=pk)
    if not found:
        raise not_found(f"replication policy {pk} not found")
    return found[0]


def executions() -> QuerySet[Execution]:
    artifact_tasks = Q(tasks__extra_attrs__kind__isnull=True) | ~Q(
        tasks__extra_attrs__kind=CONTROLLER
    )
    return Execution.objects.filter(vendor_type=VENDOR).annotate(
        n_total=Count("tasks", filter=artifact_tasks),
        n_failed=Count("tasks", filter=artifact_tasks & Q(tasks__status=Status.ERROR)),
        n_succeed=Count("tasks", filter=artifact_tasks & Q(tasks__status=Status.SUCCESS)),
        n_stopped=Count("tasks", filter=artifact_tasks & Q(tasks__status=Status.STOPPED)),
        n_in_progress=Count(
            "tasks",
            filter=artifact_tasks & Q(tasks__status__in=[Status.PENDING, Status.RUNNING]),
        ),
    )


def execution(pk: int) -> Execution:
    found = executions().filter(pk=pk).first()
    if found is None:
        raise not_found(f"replication execution {pk} not found")
    return found


def tasks(execution: Execution) -> QuerySet[Task]:
    return execution.tasks.filter(
        Q(extra_attrs__kind__isnull=True) | ~Q(extra_attrs__kind=CONTROLLER)
    )
