"""Which worker runs a task, so that a task whose worker died is run again, and only once.

A worker claims a task with a compare-and-set (pending, or running under a lease that has
gone stale) and then renews the lease every HEARTBEAT_SECONDS from a thread. A task whose
lease is stale belongs to a dead worker: a node that vanished, a process killed with
SIGKILL. Two ways bring it back: Celery redelivers the unacknowledged message (at once when
a pool process dies, after the broker's visibility timeout when a whole node does), and
`jobs.tasks.resume_orphaned_tasks` (beat, every RESUME_EVERY seconds) enqueues the task
again as soon as its lease is stale. Whichever arrives first wins the claim; the others find
the task taken or finished and do nothing. Jobs are written to be run again (GC marks and
sweeps with compare-and-set, replication skips what the destination has).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from django.db import DatabaseError, connection
from django.db.models import F, Q
from django.utils import timezone

from harbor_py.core.owners import gone_from_this_host, this_process
from jobs.models import Status, Task

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 10
STALE_SECONDS = 45
RESUME_EVERY = 15


def this_worker() -> str:
    return this_process()


def _owner_is_dead(worker: str) -> bool:
    """A lease held by a process of this host that no longer exists is stale at once."""
    return gone_from_this_host(worker)


def _stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=STALE_SECONDS)


def held_by_live_worker(task: Task) -> bool:
    if task.status != Status.RUNNING or task.heartbeat is None:
        return False
    return task.heartbeat >= _stale_before() and not _owner_is_dead(task.worker)


def claim(task: Task) -> int | None:
    """Take the task for this worker; returns the run number, or None if another live
    worker holds it (or it finished meanwhile)."""
    takeable = Q(status=Status.PENDING) | Q(
        Q(heartbeat__isnull=True) | Q(heartbeat__lt=_stale_before()), status=Status.RUNNING
    )
    if task.status == Status.RUNNING and task.worker and _owner_is_dead(task.worker):
        takeable |= Q(status=Status.RUNNING, worker=task.worker)
    now = timezone.now()
    won = (
        Task.objects.filter(takeable, pk=task.pk, run_count=task.run_count)
        .exclude(worker=this_worker(), status=Status.RUNNING)
        .update(
            status=Status.RUNNING,
            start_time=now,
            heartbeat=now,
            worker=this_worker(),
            run_count=F("run_count") + 1,
        )
    )
    return task.run_count + 1 if won else None


def orphaned_task_ids() -> list[int]:
    """Running tasks whose worker is gone, and pending ones whose message never came: the
    broker lost it (a Redis failover drops the writes its replica had not received yet) or
    was down when the job was created. The database is the record of a job; the Celery
    message only wakes a worker, and claim() makes a second wake-up harmless."""
    # Only tasks a worker claimed: a job's own sub-tasks (replication's one per artifact)
    # are run by that job, never by run_task; they exist only once their execution runs.
    stale = _stale_before()
    lost = Q(status=Status.PENDING, execution__status=Status.PENDING, creation_time__lt=stale)
    # a task waiting for its retry (jobs.runner.RetryLater) keeps its due time in
    # `heartbeat`: overdue by STALE_SECONDS, its delayed message was lost with its worker
    lost |= Q(status=Status.PENDING, heartbeat__lt=stale)
    orphaned = (
        Q(status=Status.RUNNING)
        & ~Q(worker="")
        & (Q(heartbeat__isnull=True) | Q(heartbeat__lt=stale))
    )
    found = list(Task.objects.filter(lost | orphaned).values_list("pk", flat=True))
    # running here under a fresh lease, but its process is gone (a pool process killed
    # while it ran tasks without a message of their own: jobs.services.start_executions)
    host = this_process().rpartition(":")[0]
    here = Task.objects.filter(
        status=Status.RUNNING, heartbeat__gte=stale, worker__startswith=f"{host}:"
    ).values_list("pk", "worker")
    return found + [pk for pk, worker in here if _owner_is_dead(worker)]


class HeldLease(Protocol):
    """What a running job knows of its task's lease (a Lease, a Heartbeat)."""

    @property
    def run(self) -> int: ...

    @property
    def lost(self) -> threading.Event: ...


@dataclass(frozen=True)
class Lease:
    """One task's lease held by this worker: run `run`; `lost` is set when another worker
    took the task over (this one was presumed dead), so the job should stop."""

    task_id: int
    run: int
    lost: threading.Event = field(default_factory=threading.Event, compare=False)


class Leases:
    """Renews the leases of tasks this worker runs until stopped, from one thread and in
    one statement: one task (Heartbeat), or a batch that it claimed at once and runs one
    after the other (jobs.runner.run_claimed), each released as it ends."""

    def __init__(self, leases: list[Lease]) -> None:
        self._held = {lease.task_id: lease for lease in leases}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="job-heartbeat")

    def __enter__(self) -> Leases:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def held(self, task_id: int) -> Lease | None:
        """The task's lease, unless another worker took the task over."""
        with self._lock:
            return self._held.get(task_id)

    def release(self, task_id: int) -> None:
        """The task's run ended (or went back to pending): its lease is no longer renewed."""
        with self._lock:
            self._held.pop(task_id, None)

    def _renew(self, held: list[Lease]) -> None:
        now, me = timezone.now(), this_worker()
        renewed = 0
        for run in {lease.run for lease in held}:
            ids = [lease.task_id for lease in held if lease.run == run]
            mine = Task.objects.filter(pk__in=ids, run_count=run, worker=me)
            renewed += mine.update(heartbeat=now)
        if renewed == len(held):
            return
        # A row this connection cannot see (a test's open transaction) is not a takeover.
        owners = {
            pk: (run, worker)
            for pk, run, worker in Task.objects.filter(
                pk__in=[lease.task_id for lease in held]
            ).values_list("pk", "run_count", "worker")
        }
        for lease in held:
            owner = owners.get(lease.task_id)
            if owner is not None and owner != (lease.run, me):
                lease.lost.set()
                self.release(lease.task_id)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                with self._lock:
                    held = list(self._held.values())
                if not held:
                    continue
                try:
                    self._renew(held)
                except DatabaseError:
                    # The database is failing over (or restarting): the lease goes on at
                    # the next beat, on a new session. Ending the thread here would let the
                    # lease go stale under a job that is still running.
                    logger.warning("jobs %s: heartbeat not renewed", held, exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection


class Heartbeat(Leases):
    """Renews the lease of (task, run) until stopped; `lost` tells that another worker took
    the task over (this one was presumed dead), so the job should stop."""

    def __init__(self, task_id: int, run: int) -> None:
        self.task_id, self.run = task_id, run
        lease = Lease(task_id, run)
        self.lost = lease.lost
        super().__init__([lease])

    def __enter__(self) -> Heartbeat:
        super().__enter__()
        return self
