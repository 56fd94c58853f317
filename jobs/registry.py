"""The job types, each declared once by the app that owns it (in AppConfig.ready): what
runs it, how the audit log names it, whether it writes registry data (read-only mode
skips it then) and whether only one execution of it may be active at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobs.context import JobContext

JobFunction = Callable[[JobContext], dict[str, object] | None]


class DuplicateJobType(Exception):
    pass


@dataclass(frozen=True)
class JobType:
    vendor_type: str  # Harbor's name, stored in executions and schedules
    runner: JobFunction
    audit_name: str  # audit resource types: <audit_name>_job, <audit_name>_schedule
    writes_registry: bool  # skipped while read-only (a run with dry_run=true excepted)
    # One unfinished execution per vendor id at a time (a second start is a conflict);
    # otherwise the owner decides (replication: per policy, single_active_replication).
    single_active: bool = True
    # The Celery task that beat runs for a schedule of this job type whose first argument
    # is the vendor id (a policy's); empty: jobs.tasks.run_scheduled (argument: the type).
    schedule_task: str = ""
    # Called with the execution's id when it is stopped while none of its runs is going
    # (before the first, or while it waits for a retry): what a run would have cleaned up
    # on seeing the stop (scanning: its reports still at the adapter).
    stopped_between_runs: Callable[[int], None] | None = None
    # Its runs' log lines are written with the statement that ends the run (or puts it
    # back to pending for a retry), not one by one: for short jobs whose log nobody
    # follows live (a webhook delivery), one statement less per line.
    log_at_end: bool = False


_JOBS: dict[str, JobType] = {}


def declare(job: JobType) -> None:
    if job.vendor_type in _JOBS:
        raise DuplicateJobType(f"the job type {job.vendor_type} is declared twice")
    _JOBS[job.vendor_type] = job


def declaration(vendor_type: str) -> JobType | None:
    return _JOBS.get(vendor_type)


def after_stop_between_runs(vendor_type: str, execution_id: int) -> None:
    job = _JOBS.get(vendor_type)
    if job is not None and job.stopped_between_runs is not None:
        job.stopped_between_runs(execution_id)


def known(vendor_type: str) -> bool:
    return vendor_type in _JOBS


def declared() -> list[JobType]:
    return sorted(_JOBS.values(), key=lambda job: job.vendor_type)
