"""Running one task: status transitions, log lines, and cooperative stopping."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from celery import shared_task
from django.utils import timezone

from harbor_py.core import readonly
from jobs import queues
from jobs.context import Deferred, JobContext, Stopped
from jobs.lease import Heartbeat, claim, held_by_live_worker, this_worker
from jobs.models import FINAL, Execution, Status, Task
from jobs.registry import declaration

__all__ = ["Deferred", "JobContext", "Stopped", "enqueue", "finish", "run", "run_task"]

logger = logging.getLogger(__name__)
MAX_RUNS = 3  # a task redelivered after a lost worker is retried at most this often


def _finish(
    task: Task,
    status: str,
    message: str = "",
    results: dict[str, Any] | None = None,
    run: int | None = None,
) -> None:
    now = timezone.now()
    mine = Task.objects.filter(pk=task.pk)
    if run is not None:
        mine = mine.filter(run_count=run, worker=this_worker())
    if not mine.update(status=status, status_message=message, end_time=now):
        return  # another worker took the task over: its run reports
    Execution.objects.filter(pk=task.execution_id).update(
        status=status,
        status_message=message,
        end_time=now,
        **({"extra_attrs": results} if results is not None else {}),
    )


def finish(
    task: Task, status: str, message: str = "", results: dict[str, Any] | None = None, *, run: int
) -> None:
    """End a task and its execution from a job's continuation (jobs.context.Deferred), while
    this worker holds run `run`'s lease."""
    _finish(task, status, message, results, run)


def run(task_id: int) -> None:
    task = Task.objects.select_related("execution").filter(pk=task_id).first()
    if task is None or task.status in FINAL:
        return  # redelivered after it finished: nothing to do (idempotent)
    if held_by_live_worker(task):
        return  # redelivered while its worker is alive: that run reports
    execution = task.execution
    if task.run_count >= MAX_RUNS:
        _finish(task, Status.ERROR, f"gave up after {task.run_count} attempts (worker lost)")
        return
    if execution.stop_requested:
        _finish(task, Status.STOPPED, "stopped before it started")
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
    Execution.objects.filter(pk=execution.pk).update(status=Status.RUNNING)
    with Heartbeat(task.pk, run_number) as lease:
        context = JobContext(task.pk, execution.pk, execution.parameters, lease)
        if run_number > 1:
            context.log(f"run {run_number}: the worker of the previous run was lost")
        try:
            if job is None:
                raise LookupError(f"no job type {execution.vendor_type} is declared")
            results = job.runner(context)
        except Deferred:
            return  # its continuation runs it on and finishes it
        except Stopped:
            if lease.lost.is_set():
                return
            context.log("stopped on request")
            _finish(task, Status.STOPPED, "stopped on request", run=run_number)
        except Exception as exc:
            logger.exception("job %s failed", execution.vendor_type)
            context.log("failed: " + "".join(traceback.format_exception_only(exc)).strip())
            _finish(task, Status.ERROR, str(exc)[:1000], run=run_number)
        else:
            _finish(task, Status.SUCCESS, results=results or {}, run=run_number)


# Named as it was when it lived in jobs.tasks, so that queued messages still find it.
@shared_task(name="jobs.tasks.run_task", acks_late=True)
def run_task(task_id: int) -> None:
    run(task_id)


def enqueue(task_id: int, vendor_type: str) -> None:
    """Send a task's run to the queue of its job type (jobs/queues.py)."""
    run_task.apply_async(args=(task_id,), queue=queues.queue_name(vendor_type))
