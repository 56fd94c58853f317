"""Writes of the proxy cache outside the pull path's own modules: its job log.

A proxy cache's work happens inside pulls, not in a job of its own; Harbor's jobs keep a
log, so the proxy cache keeps one too: per project and UTC day an execution of vendor
type PROXY_CACHE (vendor id: the project) with one task whose log says what the pulls
fetched from the upstream, what they stored, and what was served from the cache and why.
It is read as any job's log (GET /api/v2.0/jobservice/jobs/<task id>/log) and from the
project's page (docs/proxy-cache.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from jobs.models import Execution, Status, Task, Trigger
from proxy_cache import flights

logger = logging.getLogger(__name__)

VENDOR_TYPE = "PROXY_CACHE"
_tasks: dict[tuple[int, str], int] = {}  # (project, day) -> the task holding its log
Line = tuple[int, datetime, str]  # project, when, the line
Work = Line | Callable[[], object]  # a job-log line, or work that may wait for the answer
_held = threading.local()


def log(*, project_id: int, message: str) -> None:
    """One line in the project's job log of today. Never fails the pull it describes."""
    now = timezone.now()
    line = (project_id, now, f"{now.isoformat(timespec='seconds')} {message}\n")
    later(line)


def later(work: Work) -> None:
    """A job-log line or work the client need not wait for: held inside `held`, else done
    now."""
    lines: list[Work] | None = getattr(_held, "lines", None)
    if lines is not None:
        lines.append(work)
    else:
        write([work])


@contextmanager
def held() -> Iterator[list[Work]]:
    """The lines logged (and the work deferred) inside are held: for the caller to
    `write` once the client has its answer (a cold manifest's client does not wait on the
    job log, nor on putting the manifest into distribution)."""
    lines: list[Work] = []
    _held.lines = lines
    try:
        yield lines
    finally:
        _held.lines = None


def write(lines: Iterable[Work]) -> None:
    """Never raises: it runs after the pull's answer (the response's close()), where an
    exception would cost the client its connection, or under granian a 500."""
    for work in lines:
        if callable(work):
            _run(work)
        else:
            _write(*work)


def _run(work: Callable[[], object]) -> None:
    try:
        work()
    except Exception as exc:  # the next landed blob or pull does it again
        logger.warning("proxy cache: after the answer, %r failed: %s", work, exc)


def _write(project_id: int, now: datetime, line: str) -> None:
    try:
        task_id = _task_of(project_id, now.date().isoformat())
        Task.objects.filter(pk=task_id).update(log=Concat("log", Value(line)), update_time=now)
    except Exception as exc:  # a lost connection is an InterfaceError, no DatabaseError
        logger.warning(
            "proxy cache: job log of project %s (%s): %s", project_id, exc, line.rstrip()
        )


def _task_of(project_id: int, day: str) -> int:
    key = (project_id, day)
    if (known := _tasks.get(key)) is not None:
        return known
    # one execution per project and day, across processes
    with flights.leading(f"joblog:{project_id}:{day}", deadline_seconds=5.0):
        task_id = (
            Task.objects.filter(
                execution__vendor_type=VENDOR_TYPE,
                execution__vendor_id=project_id,
                execution__parameters__day=day,
            )
            .values_list("pk", flat=True)
            .first()
        )
        if task_id is None:
            with transaction.atomic():
                execution = Execution.objects.create(
                    vendor_type=VENDOR_TYPE,
                    vendor_id=project_id,
                    status=Status.SUCCESS,  # a record of work done in pulls: nothing to run
                    trigger=Trigger.EVENT,
                    parameters={"day": day},
                    single_active=False,
                )
                task_id = Task.objects.create(execution=execution, status=Status.SUCCESS).pk
    if len(_tasks) > 1000:  # yesterday's and the like
        _tasks.clear()
    _tasks[key] = task_id
    return task_id
