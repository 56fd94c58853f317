"""Task leases: a task whose worker died runs again, exactly once; a live one is left alone."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time

import pytest
from django.utils import timezone

from harbor_py.core.actor import Actor
from jobs import lease, registry, runner, tasks
from jobs.models import Execution, Status, Task

pytestmark = pytest.mark.django_db
runs_seen: list[int] = []


def _count_runs(context: runner.JobContext) -> dict[str, object]:
    runs_seen.append(context.task_id)
    return {"ok": True}


@pytest.fixture(autouse=True)
def test_job():
    if not registry.known("LEASE_TEST"):
        job = registry.JobType("LEASE_TEST", _count_runs, "lease_test", writes_registry=False)
        registry.declare(job)
    runs_seen.clear()
    yield


def _running_task(*, worker: str, heartbeat_age: float, run_count: int = 1) -> Task:
    execution = Execution.objects.create(
        vendor_type="LEASE_TEST", vendor_id=Execution.objects.count(), status=Status.RUNNING
    )
    return Task.objects.create(
        execution=execution,
        status=Status.RUNNING,
        run_count=run_count,
        worker=worker,
        heartbeat=timezone.now() - dt.timedelta(seconds=heartbeat_age),
    )


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_pending_task_is_claimed_and_run_once():
    execution = Execution.objects.create(vendor_type="LEASE_TEST")
    task = Task.objects.create(execution=execution)
    runner.run(task.pk)
    runner.run(task.pk)  # redelivered after it finished
    task.refresh_from_db()
    assert runs_seen == [task.pk]
    assert (task.status, task.run_count, task.worker) == (Status.SUCCESS, 1, lease.this_worker())


def test_a_task_held_by_a_live_worker_is_left_alone():
    task = _running_task(worker="other-host:1", heartbeat_age=5)
    runner.run(task.pk)
    task.refresh_from_db()
    assert runs_seen == [] and task.status == Status.RUNNING and task.run_count == 1


def test_a_task_whose_lease_went_stale_runs_again():
    task = _running_task(worker="other-host:1", heartbeat_age=lease.STALE_SECONDS + 5)
    runner.run(task.pk)
    task.refresh_from_db()
    assert runs_seen == [task.pk]
    assert (task.status, task.run_count) == (Status.SUCCESS, 2)
    assert "worker of the previous run was lost" in task.log


def test_a_task_of_a_dead_process_on_this_host_is_taken_over_at_once():
    task = _running_task(worker=f"{socket.gethostname()}:{_dead_pid()}", heartbeat_age=1)
    runner.run(task.pk)
    task.refresh_from_db()
    assert runs_seen == [task.pk] and task.status == Status.SUCCESS


def test_beat_resumes_orphaned_tasks_only():
    stale = _running_task(worker="gone:1", heartbeat_age=lease.STALE_SECONDS + 5)
    live = _running_task(worker="alive:1", heartbeat_age=2)
    tasks.resume_orphaned_tasks()  # eager in tests: the enqueued run happens here
    stale.refresh_from_db()
    live.refresh_from_db()
    assert runs_seen == [stale.pk]
    assert stale.status == Status.SUCCESS and live.status == Status.RUNNING


def test_a_worker_presumed_dead_does_not_overwrite_the_new_run():
    task = _running_task(worker="new-owner:7", heartbeat_age=1, run_count=2)
    runner._finish(task, Status.ERROR, "late failure of run 1", run=1)
    task.refresh_from_db()
    assert task.status == Status.RUNNING and task.status_message == ""
    assert Execution.objects.get(pk=task.execution_id).status == Status.RUNNING


def test_beat_enqueues_a_pending_task_whose_message_was_lost():
    """A Redis failover can drop a just-enqueued message: the task, pending in the database
    past the lease's stale time, is enqueued again (a fresh one is still in the queue)."""
    old = timezone.now() - dt.timedelta(seconds=lease.STALE_SECONDS + 5)
    lost = Task.objects.create(execution=Execution.objects.create(vendor_type="LEASE_TEST"))
    Task.objects.filter(pk=lost.pk).update(creation_time=old)
    fresh = Task.objects.create(
        execution=Execution.objects.create(vendor_type="LEASE_TEST", vendor_id=1)
    )
    running = Execution.objects.create(vendor_type="LEASE_TEST", vendor_id=2, status=Status.RUNNING)
    sub_task = Task.objects.create(execution=running)  # a job's own, run by that job
    Task.objects.filter(pk=sub_task.pk).update(creation_time=old)
    tasks.resume_orphaned_tasks()
    assert runs_seen == [lost.pk]
    assert Task.objects.get(pk=lost.pk).status == Status.SUCCESS
    assert {Task.objects.get(pk=t.pk).status for t in (fresh, sub_task)} == {Status.PENDING}


def test_a_job_is_created_while_the_broker_is_down(monkeypatch, django_capture_on_commit_callbacks):
    """The request succeeds and the task waits, pending, for beat to enqueue it."""
    from jobs import services

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.run_task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        execution = services.start_execution(
            vendor_type="LEASE_TEST", parameters={}, actor=Actor.system("test")
        )
    assert Task.objects.get(execution=execution).status == Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_outlives_a_database_failover(monkeypatch):
    """A renewal that fails (no primary for a moment) must not end the heartbeat: the lease
    would go stale under a running job and another worker would run it again."""
    from django.db import OperationalError
    from django.db.models.query import QuerySet

    monkeypatch.setattr(lease, "HEARTBEAT_SECONDS", 0.05)
    task = _running_task(worker=lease.this_worker(), heartbeat_age=100)
    real_update = QuerySet.update
    failures = iter([True, True])

    def update_failing_twice(self, **values):
        if "heartbeat" in values and next(failures, False):
            raise OperationalError("the database system is shutting down")
        return real_update(self, **values)

    monkeypatch.setattr(QuerySet, "update", update_failing_twice)
    with lease.Heartbeat(task.pk, run=1) as beat:
        deadline = dt.datetime.now() + dt.timedelta(seconds=5)
        while Task.objects.get(pk=task.pk).heartbeat < timezone.now() - dt.timedelta(seconds=5):
            assert dt.datetime.now() < deadline, "the lease was never renewed after the errors"
            time.sleep(0.05)
    assert not beat.lost.is_set()


@pytest.mark.django_db(transaction=True)  # the lease thread's connection sees the rows
def test_a_batchs_leases_are_renewed_together_and_a_task_taken_over_is_let_go(monkeypatch):
    """jobs.runner.run_claimed holds the leases of the tasks it claimed ahead while it runs
    them one after the other: the ones still waiting are renewed too (their lease would
    go stale behind a slow one), and one that another worker took over is lost to this
    one, which then leaves it alone."""
    monkeypatch.setattr(lease, "HEARTBEAT_SECONDS", 0.05)
    me = lease.this_worker()
    waiting = _running_task(worker=me, heartbeat_age=100)
    taken = _running_task(worker="other-host:1", heartbeat_age=0, run_count=2)
    held = [lease.Lease(waiting.pk, 1), lease.Lease(taken.pk, 1)]
    with lease.Leases(held) as leases:
        deadline = time.monotonic() + 5
        while Task.objects.get(pk=waiting.pk).heartbeat < timezone.now() - dt.timedelta(seconds=5):
            assert time.monotonic() < deadline, "the waiting task's lease was never renewed"
            time.sleep(0.05)
        while leases.held(taken.pk) is not None:
            assert time.monotonic() < deadline, "the task taken over was never let go"
            time.sleep(0.05)
    assert held[1].lost.is_set() and not held[0].lost.is_set()
    assert Task.objects.get(pk=taken.pk).worker == "other-host:1"
