"""What a job function gets: its task's log, progress and cooperative stopping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from jobs.lease import Heartbeat
from jobs.models import Execution, Task


@dataclass
class JobContext:
    task_id: int
    execution_id: int
    parameters: dict[str, Any]
    lease: Heartbeat | None = None

    def log(self, message: str) -> None:
        line = f"{timezone.now().isoformat(timespec='seconds')} {message}\n"
        Task.objects.filter(pk=self.task_id).update(log=Concat("log", Value(line)))

    def progress(self, percent: int) -> None:
        """How far the run is (0-100), for the UI's progress bar; in the task's extra_attrs."""
        task = Task.objects.filter(pk=self.task_id).only("extra_attrs").first()
        if task is not None:
            attrs = {**task.extra_attrs, "progress": max(0, min(100, percent))}
            Task.objects.filter(pk=self.task_id).update(extra_attrs=attrs)

    def should_stop(self) -> bool:
        if self.lease is not None and self.lease.lost.is_set():
            return True  # another worker has taken the task over
        return Execution.objects.filter(pk=self.execution_id, stop_requested=True).exists()


class Stopped(Exception):
    """Raised by a job that noticed should_stop()."""


class Deferred(Exception):
    """Raised by a job that handed the rest of its run to a Celery task of its own, sent
    with a countdown (scanning's report polls): the runner returns and frees the worker's
    slot, leaving the task Running; the job released its lease and finishes the task itself
    (jobs.runner.finish) when its continuation ends."""
