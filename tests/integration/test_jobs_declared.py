"""Job types are declared once, and the jobs machinery reads the declaration: the
one-active rule, the audit names, the scheduler."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from harbor_py.core.actor import Actor
from harbor_py.core.errors import DomainError
from harbor_py.core.http import status_of
from jobs import registry, services
from jobs.models import Execution, Status
from jobs.registry import DuplicateJobType, JobType

SYSTEM = Actor.system("test")

pytestmark = pytest.mark.django_db


def _noop(context):
    return None


@pytest.fixture(autouse=True)
def declared():
    for name, single in (("ONE_AT_A_TIME", True), ("MANY_AT_ONCE", False)):
        if not registry.known(name):
            registry.declare(JobType(name, _noop, f"{name.lower()}_audit", False, single))


def test_a_job_type_is_declared_once():
    with pytest.raises(DuplicateJobType, match="GARBAGE_COLLECTION"):
        registry.declare(JobType("GARBAGE_COLLECTION", _noop, "gc", writes_registry=True))


def test_single_active_comes_from_the_declaration(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():  # the runs are not started
        services.start_execution(vendor_type="MANY_AT_ONCE", parameters={}, actor=SYSTEM)
        services.start_execution(vendor_type="MANY_AT_ONCE", parameters={}, actor=SYSTEM)
        services.start_execution(vendor_type="ONE_AT_A_TIME", parameters={}, actor=SYSTEM)
        with pytest.raises(DomainError) as refused:
            services.start_execution(vendor_type="ONE_AT_A_TIME", parameters={}, actor=SYSTEM)
    assert status_of(refused.value) == 409
    pending = Execution.objects.filter(status=Status.PENDING)
    assert pending.filter(vendor_type="MANY_AT_ONCE").count() == 2
    assert pending.filter(vendor_type="ONE_AT_A_TIME").count() == 1


def test_audit_names_come_from_the_declaration(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        services.start_execution(
            vendor_type="MANY_AT_ONCE", parameters={}, actor=Actor(username="admin")
        )
    assert AuditLog.objects.get().resource_type == "many_at_once_audit_job"


def test_an_undeclared_job_type_neither_starts_nor_gets_a_schedule():
    with pytest.raises(DomainError) as refused:
        services.start_execution(vendor_type="NO_SUCH_JOB", parameters={}, actor=SYSTEM)
    assert status_of(refused.value) == 400
    with pytest.raises(DomainError) as refused:
        services.set_schedule(
            vendor_type="NO_SUCH_JOB", type_="Daily", cron="", parameters={}, actor=SYSTEM
        )
    assert status_of(refused.value) == 400
    assert not Execution.objects.exists()


def test_the_task_that_runs_jobs_keeps_its_name_for_queued_messages():
    from jobs import runner, tasks

    assert runner.run_task.name == "jobs.tasks.run_task" and tasks.run_task is runner.run_task
