"""Running one task: status transitions, log lines, and cooperative stopping."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import current_app, shared_task
from django.db import connection
from django.utils import timezone

from harbor_py.core import readonly
from jobs import queues
from jobs.context import JobContext, RetryLater, Stopped
from jobs.lease import Heartbeat, HeldLease, Lease, Leases, claim, held_by_live_worker, this_worker
from jobs.models import FINAL, Execution, Status, Task
from jobs.registry import JobType, after_stop_between_runs, declaration

__all__ = [
    "JobContext",
    "RetryLater",
    "Stopped",
    "enqueue",
    "enqueue_many",
    "run",
    "run_claimed",
    "run_task",
]

logger = logging.getLogger(__name__)
MAX_RUNS = 3  # a task redelivered after a lost worker is retried at most this often
RETRIES = "retries"  # in a task's extra_attrs: how often its job asked to run again
# A retry's message may come this much before the due time its sender recorded (the
# nodes' clocks, Celery's timer) and still run it.
DUE_SLACK_SECONDS = 1.0


# Plain statements (harbor_py.core.db says why): a run's end is written once per task, on
# every delivery of a webhook among others; on PostgreSQL the task's and the execution's
# ends are one statement (one round trip, one commit). `||` is SQL's concatenation in
# PostgreSQL and SQLite alike.
_END_TASK = (
    'UPDATE "task" SET status = %s, status_message = %s, end_time = %s, log = log || %s, '
    "records = records || %s WHERE id = %s"
)
_END_EXECUTION = 'UPDATE "execution" SET status = %s, status_message = %s, end_time = %s'


def _finish(
    task: Task,
    status: str,
    message: str = "",
    results: dict[str, Any] | None = None,
    run: int | None = None,
    context: JobContext | None = None,
) -> None:
    """End the task and its execution; with the lines its job's `context` has not
    written yet (JobType.log_at_end) in the same statement."""
    now = timezone.now()
    log, records = context.unwritten_text() if context is not None else ("", "")
    also = context.at_end() if context is not None else []
    end_task = _END_TASK
    task_params: list[Any] = [status, message, now, log, records, task.pk]
    if run is not None:
        end_task += " AND run_count = %s AND worker = %s"
        task_params += [run, this_worker()]
    end_execution = _END_EXECUTION
    params: list[Any] = [status, message, now]
    if results is not None:
        end_execution += ", extra_attrs = %s"
        params.append(_EXTRA_ATTRS.get_db_prep_save(results, connection))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # no execution ended when the task's run was not this one's any more; the
            # job's own statements run in any case, as they would have run before it
            jobs = "".join(f"job{n} AS ({sql}), " for n, (sql, _) in enumerate(also))
            cursor.execute(
                f"WITH {jobs}ended AS ({end_task} RETURNING execution_id) {end_execution} "
                "WHERE id = (SELECT execution_id FROM ended)",
                [*(p for _, job_params in also for p in job_params), *task_params, *params],
            )
            return
        for sql, job_params in also:
            cursor.execute(sql, job_params)
        cursor.execute(end_task, task_params)
        if not cursor.rowcount:
            return  # another worker took the task over: its run reports
        cursor.execute(end_execution + " WHERE id = %s", [*params, task.execution_id])


_EXTRA_ATTRS = Execution._meta.get_field("extra_attrs")


@dataclass(frozen=True)
class _Retry:
    later: RetryLater
    log: dict[str, Any]  # the log lines not written yet (JobContext.unwritten)


def countdowns_wait() -> bool:
    """Celery holds a message sent with a countdown until it is due; in eager mode (the
    tests without a worker) it runs it at once."""
    return not current_app.conf.task_always_eager


def _retry_later(task: Task, run: int, retry: _Retry, vendor_type: str) -> None:
    """Put the task back to pending, due in `countdown` seconds (kept in its `heartbeat`:
    `run` waits for it, jobs.lease requeues a retry whose message was lost), with the log
    lines its run had not written yet, and send its message again with that countdown."""
    countdown = retry.later.countdown
    mine = Task.objects.filter(pk=task.pk, run_count=run, worker=this_worker())
    # read again: the job may have written its own attributes (progress) during the run
    attrs = mine.values_list("extra_attrs", flat=True).first()
    if attrs is None:
        return  # another worker took the task over
    if Execution.objects.filter(pk=task.execution_id, stop_requested=True).exists():
        countdown = 0.0  # stopped during this run: the next one ends it at once
    attrs = {**attrs, RETRIES: int(attrs.get(RETRIES, 0)) + 1}
    due = timezone.now() + dt.timedelta(seconds=countdown)
    pending = {"status": Status.PENDING, "worker": "", "heartbeat": due, "extra_attrs": attrs}
    if mine.update(**pending, **retry.log):
        run_task.apply_async(
            args=(task.pk,), queue=queues.queue_name(vendor_type), countdown=countdown
        )


def _not_due(task: Task) -> bool:
    """A task waiting for its retry whose due time is still ahead: a message that came
    early (a duplicate, or a late copy of the previous retry's) does nothing; the one sent
    for this retry comes when it is due (or jobs.lease requeues it, if it was lost). In
    eager mode every message runs at once."""
    if task.status != Status.PENDING or task.heartbeat is None or not countdowns_wait():
        return False
    return task.heartbeat > timezone.now() + dt.timedelta(seconds=DUE_SLACK_SECONDS)


def run(task_id: int) -> None:
    task = Task.objects.select_related("execution").filter(pk=task_id).first()
    if task is None or task.status in FINAL:
        return  # redelivered after it finished: nothing to do (idempotent)
    if _not_due(task):
        return
    if held_by_live_worker(task):
        return  # redelivered while its worker is alive: that run reports
    execution = task.execution
    retries = int(task.extra_attrs.get(RETRIES, 0))
    if task.run_count - retries >= MAX_RUNS:
        _finish(task, Status.ERROR, f"gave up after {task.run_count} attempts (worker lost)")
        return
    if execution.stop_requested:
        stopped = "stopped on request" if retries else "stopped before it started"
        _finish(task, Status.STOPPED, stopped)
        after_stop_between_runs(execution.vendor_type, execution.pk)
        return
    if task.status == Status.PENDING and queues.parked_if_paused(task, execution.vendor_type):
        return  # its job type is paused: resuming enqueues it again (jobs/queues.py)
    job = declaration(execution.vendor_type)
    writes = job is not None and job.writes_registry
    if skipped := readonly.skipped_job_message(execution.vendor_type, execution.parameters, writes):
        JobContext(task.pk, execution.pk, execution.parameters).log(skipped)
        _finish(task, Status.ERROR, skipped)
        return
    run_number = claim(task)
    if run_number is None:
        return  # a live worker runs it, or it finished meanwhile
    if execution.status != Status.RUNNING:
        Execution.objects.filter(pk=execution.pk).update(status=Status.RUNNING)
    with Heartbeat(task.pk, run_number) as lease:
        retry = _execute(task, execution, job, lease, retries)
    if retry is not None:  # after the lease ended: an eager run (tests) starts it at once
        _retry_later(task, run_number, retry, execution.vendor_type)


def _execute(
    task: Task,
    execution: Execution,
    job: JobType | None,
    lease: HeldLease,
    retries: int,
    prepared: Any = None,
) -> _Retry | None:
    """Run the job of a task this worker holds (`lease`) and record how it ended; or the
    retry it asked for, which the caller sends once the lease ends (_retry_later)."""
    context = JobContext(
        task.pk,
        execution.pk,
        execution.parameters,
        lease,
        retries + 1,
        log_at_end=job is not None and job.log_at_end,
        prepared=prepared,
    )
    if lease.run - retries > 1:
        context.log(f"run {lease.run}: the worker of the previous run was lost")
    try:
        if job is None:
            raise LookupError(f"no job type {execution.vendor_type} is declared")
        results = job.runner(context)
    except RetryLater as later:
        if not lease.lost.is_set():
            return _Retry(later, context.unwritten())
    except Stopped:
        if lease.lost.is_set():
            return None
        context.log("stopped on request")
        _finish(task, Status.STOPPED, "stopped on request", run=lease.run, context=context)
    except Exception as exc:
        logger.exception("job %s failed", execution.vendor_type)
        context.log("failed: " + "".join(traceback.format_exception_only(exc)).strip())
        _finish(task, Status.ERROR, str(exc)[:1000], run=lease.run, context=context)
    else:
        _finish(task, Status.SUCCESS, results=results or {}, run=lease.run, context=context)
    return None


def run_claimed(tasks: Sequence[Task], prepared: Mapping[int, Any] | None = None) -> None:
    """Tasks this worker claimed as it created them (jobs.services.start_executions,
    `inline`: Running, run 1, their executions Running), run one after the other under one
    lease renewal, each job given what its creator `prepared` for it (by task id). A task
    another worker took over meanwhile (this one presumed dead) is left to it; one whose
    run failed unexpectedly is requeued by jobs.lease."""
    with Leases([Lease(task.pk, task.run_count) for task in tasks]) as leases:
        for task in tasks:
            execution = task.execution
            retry = None
            lease = leases.held(task.pk)
            try:
                if lease is not None:
                    job = declaration(execution.vendor_type)
                    ready = (prepared or {}).get(task.pk)
                    retry = _execute(task, execution, job, lease, retries=0, prepared=ready)
            except Exception:
                logger.exception("task %s could not be run", task.pk)
            finally:
                leases.release(task.pk)
            if retry is not None and lease is not None:
                _retry_later(task, lease.run, retry, execution.vendor_type)


# Named as it was when it lived in jobs.tasks, so that queued messages still find it.
@shared_task(name="jobs.tasks.run_task", acks_late=True)
def run_task(task_id: int) -> None:
    run(task_id)


def enqueue(task_id: int, vendor_type: str) -> None:
    """Send a task's run to the queue of its job type (jobs/queues.py), which every worker
    consumes (`queues.announce`)."""
    queues.announce(vendor_type)
    run_task.apply_async(args=(task_id,), queue=queues.queue_name(vendor_type))


@shared_task(name="jobs.tasks.run_tasks", acks_late=True, ignore_result=True)
def run_tasks(task_ids: list[int]) -> None:
    """Several tasks in one message, one after the other (jobs.services.start_executions).
    Redelivered after a lost worker, the finished ones are skipped (run is idempotent)."""
    for task_id in task_ids:
        try:
            run(task_id)
        except Exception:  # the others still run; jobs.lease requeues this one
            logger.exception("task %s could not be run", task_id)


def enqueue_many(task_ids: Iterable[int], vendor_type: str) -> None:
    """One message for several tasks of one job type, to its queue."""
    run_tasks.apply_async(args=(list(task_ids),), queue=queues.queue_name(vendor_type))
