"""Running one task: status transitions, log lines, and cooperative stopping."""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from harbor_py.ops import readonly
from jobs.models import FINAL, Execution, Status, Task
from jobs.registry import job_for

logger = logging.getLogger(__name__)
MAX_RUNS = 3  # a task redelivered after a lost worker is retried at most this often


@dataclass
class JobContext:
    task_id: int
    execution_id: int
    parameters: dict[str, Any]

    def log(self, message: str) -> None:
        line = f"{timezone.now().isoformat(timespec='seconds')} {message}\n"
        Task.objects.filter(pk=self.task_id).update(log=Concat("log", Value(line)))

    def should_stop(self) -> bool:
        return Execution.objects.filter(pk=self.execution_id, stop_requested=True).exists()


class Stopped(Exception):
    """Raised by a job that noticed should_stop()."""


def _finish(
    task: Task, status: str, message: str = "", results: dict[str, Any] | None = None
) -> None:
    now = timezone.now()
    Task.objects.filter(pk=task.pk).update(status=status, status_message=message, end_time=now)
    Execution.objects.filter(pk=task.execution_id).update(
        status=status,
        status_message=message,
        end_time=now,
        **({"extra_attrs": results} if results is not None else {}),
    )


def run(task_id: int) -> None:
    task = Task.objects.select_related("execution").filter(pk=task_id).first()
    if task is None or task.status in FINAL:
        return  # redelivered after it finished: nothing to do (idempotent)
    execution = task.execution
    if task.run_count >= MAX_RUNS:
        _finish(task, Status.ERROR, f"gave up after {task.run_count} attempts (worker lost)")
        return
    if execution.stop_requested:
        _finish(task, Status.STOPPED, "stopped before it started")
        return
    if skipped := readonly.skipped_job_message(execution.vendor_type, execution.parameters):
        JobContext(task.pk, execution.pk, execution.parameters).log(skipped)
        _finish(task, Status.ERROR, skipped)
        return
    now = timezone.now()
    Task.objects.filter(pk=task.pk).update(
        status=Status.RUNNING, start_time=now, run_count=task.run_count + 1
    )
    Execution.objects.filter(pk=execution.pk).update(status=Status.RUNNING)
    context = JobContext(task.pk, execution.pk, execution.parameters)
    try:
        results = job_for(execution.vendor_type)(context)
    except Stopped:
        context.log("stopped on request")
        _finish(task, Status.STOPPED, "stopped on request")
    except Exception as exc:
        logger.exception("job %s failed", execution.vendor_type)
        context.log("failed: " + "".join(traceback.format_exception_only(exc)).strip())
        _finish(task, Status.ERROR, str(exc)[:1000])
    else:
        _finish(task, Status.SUCCESS, results=results or {})
