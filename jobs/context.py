"""What a job function gets: its task's log, progress and cooperative stopping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from jobs.lease import HeldLease
from jobs.models import Execution, Task


@dataclass
class JobContext:
    task_id: int
    execution_id: int
    parameters: dict[str, Any]
    lease: HeldLease | None = None
    attempt: int = 1  # 1 + the times the job asked to be run again (RetryLater)
    # Keep the log lines for the statement that ends the run (jobs.registry.JobType).
    log_at_end: bool = False
    # What the job's creator already read for it (jobs.services.NewExecution.prepared), in
    # memory, on its first run in the worker that created it; None otherwise.
    prepared: Any = None
    # Statements to run with the run's end (with_end), not written yet.
    _at_end: list[tuple[str, list[Any]]] = field(default_factory=list, init=False, repr=False)
    _log: list[str] = field(default_factory=list, init=False, repr=False)
    _records: list[str] = field(default_factory=list, init=False, repr=False)

    def log(self, message: str, *, event: str | None = None, **params: Any) -> None:
        """A line of the task's log (English, as the API serves it). With `event`, also a
        structured record of it (`Task.records`: the event's name and its parameters, plain
        JSON values), which a surface words in its own language."""
        now = timezone.now().isoformat(timespec="seconds")
        self._log.append(f"{now} {message}\n")
        if event is not None:
            record = json.dumps({"time": now, "event": event, "params": params}, default=str)
            self._records.append(record + "\n")
        if not self.log_at_end:
            self.write_log()

    def unwritten(self) -> dict[str, Any]:
        """The update of the task's columns that appends the lines not written yet (for a
        statement of the caller's); they count as written from then on."""
        log, records = self.unwritten_text()
        changes: dict[str, Any] = {}
        if log:
            changes["log"] = Concat("log", Value(log))
        if records:
            changes["records"] = Concat("records", Value(records))
        return changes

    def with_end(self, sql: str, params: Sequence[Any]) -> None:
        """Run an UPDATE of the job's own (no RETURNING) with the statement that ends this
        run successfully or not (jobs.runner): on PostgreSQL in that very statement, so in
        its transaction and round trip; elsewhere just before it."""
        self._at_end.append((sql, list(params)))

    def at_end(self) -> list[tuple[str, list[Any]]]:
        """The statements given to with_end, not run yet; they count as run from then on."""
        statements, self._at_end = self._at_end, []
        return statements

    def unwritten_text(self) -> tuple[str, str]:
        """The log's and the records' text not written yet, for an SQL statement of the
        caller's; they count as written from then on."""
        text = ("".join(self._log), "".join(self._records))
        self._log, self._records = [], []
        return text

    def write_log(self) -> None:
        """Write the lines not written yet."""
        if changes := self.unwritten():
            Task.objects.filter(pk=self.task_id).update(**changes)

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


class RetryLater(Exception):
    """Raised by a job to be run again in `countdown` seconds (jobs.runner): its task goes
    back to pending and its Celery message is sent again with that countdown, so no worker
    slot is held meanwhile; the next run sees `attempt` one higher. A job that waits on
    something outside (scanning's polls of an adapter) keeps where it stood in its own rows
    and reads it back on the next run."""

    def __init__(self, countdown: float, message: str = "") -> None:
        super().__init__(message or f"retry in {countdown:g} s")
        self.countdown = countdown
