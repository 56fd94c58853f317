"""Starting, stopping and scheduling jobs. Celery tasks are enqueued only after commit.

Changes made by a user (manual runs, stops, schedules through the API) are audited in their
transaction; runs that a job starts (a system actor: beat's schedule, a replication event)
are not.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request
from jobs import queues
from jobs.lease import this_worker
from jobs.models import FINAL, Execution, Schedule, Status, Task, Trigger
from jobs.registry import after_stop_between_runs, declaration
from jobs.runner import enqueue, enqueue_many, run_claimed, run_tasks
from jobs.writes import insert_executions

# the types a schedule body may name besides Manual (a run now); "Schedule" is Custom
SCHEDULE_TYPES = frozenset({"Hourly", "Daily", "Weekly", "Custom", "None", "Schedule"})
PRESET_CRONS = {"Hourly": "0 0 * * * *", "Daily": "0 0 0 * * *", "Weekly": "0 0 0 * * 0"}
# Who starts the runs that beat schedules (not audited: see above).
SCHEDULER = Actor.system("harbor-scheduler")


def _audit(
    *,
    actor: Actor,
    vendor_type: str,
    kind: str,
    operation: str,
    resource: str,
    description: str,
) -> None:
    if actor.is_system:
        return
    job = declaration(vendor_type)
    name = job.audit_name if job else vendor_type.lower()
    record(
        actor=actor,
        operation=operation,
        resource_type=f"{name}_{kind}",
        resource=resource,
        description=description,
    )


def _audit_job(actor: Actor, execution: Execution, operation: str, description: str) -> None:
    _audit(
        actor=actor,
        vendor_type=execution.vendor_type,
        kind="job",
        operation=operation,
        resource=f"{execution.vendor_type}:{execution.pk}",
        description=description,
    )


def _started(trigger: str, parameters: dict[str, Any]) -> str:
    return f"{trigger.lower()} run, parameters {json.dumps(parameters, sort_keys=True)}"


@transaction.atomic
def start_execution(
    *,
    vendor_type: str,
    parameters: dict[str, Any],
    trigger: str = Trigger.MANUAL,
    vendor_id: int = 0,
    actor: Actor,
    extra_attrs: dict[str, Any] | None = None,
) -> Execution:
    """Create an execution with one task and enqueue it. One active execution per vendor
    id when the job type is declared single_active (jobs.registry). `extra_attrs` are
    the execution's until its run answers its own (saves the caller an UPDATE)."""
    job = declaration(vendor_type)
    if job is None:
        raise bad_request(f"no job type {vendor_type}")
    try:
        with transaction.atomic():
            execution = Execution.objects.create(
                vendor_type=vendor_type,
                vendor_id=vendor_id,
                trigger=trigger,
                parameters=parameters,
                single_active=job.single_active,
                extra_attrs=extra_attrs or {},
            )
    except IntegrityError:
        raise DomainError(
            Code.CONFLICT, f"a {vendor_type} job is already running", key="job.running"
        ) from None
    task = Task.objects.create(execution=execution)
    _audit_job(actor, execution, "create", _started(trigger, parameters))
    # robust: a broker that is failing over must not fail the request; the task waits in
    # the database and jobs.tasks.resume_orphaned_tasks enqueues it (jobs/lease.py).
    transaction.on_commit(lambda: enqueue(task.pk, vendor_type), robust=True)
    return execution


@dataclass(frozen=True)
class NewExecution:
    vendor_type: str  # a job type declared not single_active
    parameters: dict[str, Any]
    vendor_id: int = 0
    extra_attrs: dict[str, Any] = field(default_factory=dict)
    # In memory only, never stored: what the caller already read for the job, handed to
    # its first run when this worker runs it inline (JobContext.prepared).
    prepared: Any = None


# No savepoint: its callers add nothing that an error of it should leave standing (the
# outbox delivery, which rolls back whole), and it runs once per event on the worker.
@transaction.atomic(savepoint=False)
def start_executions(
    new: Sequence[NewExecution], *, trigger: str, actor: Actor, inline: bool = False
) -> list[Execution]:
    """Several executions with one task each, as start_execution makes one, in one INSERT
    of the executions and one of the tasks; after commit one message per job type runs
    their tasks one after the other (jobs.runner.run_tasks). `inline` (a caller that is
    itself a Celery task): the tasks are written already claimed by this worker (Running,
    run 1, under its lease) and it runs them after commit, without a message or a claim
    of each (jobs.runner.run_claimed); a worker lost meanwhile leaves them to
    jobs.tasks.resume_orphaned_tasks, as any run it had claimed. A job type that is paused
    or writes registry data (read-only mode may skip it) is never claimed ahead: its tasks
    go through jobs.runner.run, which checks. Only for job types that may have several
    active executions (single_active=False)."""
    claimable: dict[str, bool] = {}
    for item in new:
        job = declaration(item.vendor_type)
        if job is None or job.single_active:
            raise bad_request(f"no job type {item.vendor_type} that runs several at a time")
        if inline and item.vendor_type not in claimable:
            claimable[item.vendor_type] = not job.writes_registry and not queues.is_paused(
                item.vendor_type
            )
    claimed = {vendor_type for vendor_type, ok in claimable.items() if ok}
    now, worker = timezone.now(), this_worker()
    # jobs.writes, not bulk_create: Django's bulk insert sends the JSON columns as text
    # arrays (UNNEST), whose escaping of every quote of a webhook's payload cost a third
    # of the outbox delivery's CPU
    executions = [
        Execution(
            vendor_type=item.vendor_type,
            vendor_id=item.vendor_id,
            status=Status.RUNNING if item.vendor_type in claimed else Status.PENDING,
            trigger=trigger,
            parameters=item.parameters,
            single_active=False,
            extra_attrs=item.extra_attrs,
            start_time=now,
            update_time=now,
        )
        for item in new
    ]
    tasks = [
        Task(
            execution=execution,
            status=Status.RUNNING,
            run_count=1,
            worker=worker,
            start_time=now,
            heartbeat=now,
            creation_time=now,
            update_time=now,
        )
        if execution.vendor_type in claimed
        else Task(execution=execution, creation_time=now, update_time=now)
        for execution in executions
    ]
    insert_executions(executions, tasks, now=now, worker=worker)
    for execution in executions:
        _audit_job(actor, execution, "create", _started(trigger, execution.parameters))
    by_type: dict[str, list[int]] = {}
    ahead: list[Task] = []
    prepared: dict[int, Any] = {}
    for item, execution, task in zip(new, executions, tasks, strict=True):
        if execution.vendor_type in claimed:
            ahead.append(task)
            prepared[task.pk] = item.prepared
        else:
            by_type.setdefault(execution.vendor_type, []).append(task.pk)
    for vendor_type, task_ids in by_type.items():  # robust: as start_execution's
        send = (
            functools.partial(run_tasks, task_ids)
            if inline
            else functools.partial(enqueue_many, task_ids, vendor_type)
        )
        transaction.on_commit(send, robust=True)
    if ahead:
        transaction.on_commit(functools.partial(run_claimed, ahead, prepared), robust=True)
    return executions


@transaction.atomic
def request_stop(execution: Execution, *, actor: Actor) -> None:
    """Ask a running execution to stop; a pending one, or one whose task waits for its
    retry, stops at once (and its job type cleans up after it: `stopped_between_runs`)."""
    if execution.status in FINAL:
        raise bad_request(f"execution {execution.pk} has already finished", key="job.finished")
    _audit_job(actor, execution, "update", "stop requested")
    Execution.objects.filter(pk=execution.pk).update(stop_requested=True)
    now = timezone.now()
    stopped = Task.objects.filter(execution=execution, status=Status.PENDING).update(
        status=Status.STOPPED, end_time=now
    )
    # pending, or running with no task running (a task waiting for its retry)
    if stopped and (
        Execution.objects.filter(pk=execution.pk, status__in=[Status.PENDING, Status.RUNNING])
        .exclude(tasks__status=Status.RUNNING)
        .update(status=Status.STOPPED, end_time=now)
    ):
        after_stop_between_runs(execution.vendor_type, execution.pk)


def replace_beat_task(
    old_id: int | None, *, name: str, task: str, cron: str, args: list[Any]
) -> PeriodicTask | None:
    """A policy's beat task made anew: the old one (if any) deleted, a new one created when
    `cron` is set; the new task, or None. Replication's and retention's policies use it."""
    if old_id:
        PeriodicTask.objects.filter(pk=old_id).delete()
    if not cron:
        return None
    return PeriodicTask.objects.create(
        name=name, task=task, crontab=beat_crontab(cron), args=json.dumps(args)
    )


def beat_crontab(cron: str) -> CrontabSchedule:
    """Harbor's crons have six fields (seconds first); beat's have five."""
    fields = cron.split()
    if len(fields) == 6:
        fields = fields[1:]
    if len(fields) != 5:
        raise bad_request(
            f"invalid cron {cron!r}: expected 6 fields (s m h dom mon dow)", key="cron.invalid"
        )
    minute, hour, day_of_month, month, day_of_week = fields
    try:
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone="UTC",
        )
        schedule.full_clean()
    except Exception as exc:
        raise bad_request(f"invalid cron {cron!r}: {exc}", key="cron.invalid") from None
    return schedule


@transaction.atomic
def set_schedule(
    *,
    vendor_type: str,
    type_: str,
    cron: str,
    parameters: dict[str, Any],
    actor: Actor,
) -> Schedule:
    """Hourly/Daily/Weekly/Custom schedule the job; None removes the schedule."""
    if declaration(vendor_type) is None:
        raise bad_request(f"no job type {vendor_type}")
    if type_ not in {"Hourly", "Daily", "Weekly", "Custom", "None"}:
        raise bad_request("schedule type must be Hourly, Daily, Weekly, Custom or None")
    schedule, _ = Schedule.objects.select_for_update().get_or_create(vendor_type=vendor_type)
    if schedule.periodic_task:
        schedule.periodic_task.delete()
        schedule.periodic_task = None
    schedule.type, schedule.parameters = type_, parameters
    schedule.cron = "" if type_ == "None" else (PRESET_CRONS.get(type_) or cron)
    if type_ != "None":
        if not schedule.cron:
            raise bad_request(
                "a Custom schedule needs a cron expression", key="schedule.cron_required"
            )
        schedule.periodic_task = PeriodicTask.objects.create(
            name=f"harbor-schedule-{vendor_type}",
            task="jobs.tasks.run_scheduled",
            crontab=beat_crontab(schedule.cron),
            args=json.dumps([vendor_type]),
        )
    schedule.save()
    _audit(
        actor=actor,
        vendor_type=vendor_type,
        kind="schedule",
        operation="update",
        resource=vendor_type,
        description=f"type {type_}"
        + (f", cron {schedule.cron}" if schedule.cron else "")
        + f", parameters {json.dumps(parameters, sort_keys=True)}",
    )
    return schedule


def _audit_queue(actor: Actor, job_type: str, action: str) -> None:
    record(
        actor=actor,
        operation="update",
        resource_type="jobservice_queue",
        resource=job_type,
        description=action,
    )


def act_on_queue(*, job_type: str, action: str, actor: Actor) -> None:
    """Harbor's actionPendingJobs on one job type or `all`: pause (its runs wait in the
    broker), resume (they start again, the parked ones re-sent), stop (the waiting runs
    are stopped and their messages dropped). As Harbor's, the action and the job type are
    read in any case (`purge_audit_log`, `ALL`)."""
    action = action.lower()
    if action not in ("pause", "resume", "stop"):
        raise bad_request("action must be stop, pause or resume")
    try:
        if action == "pause":
            queues.pause(job_type)
        elif action == "resume":
            for task_id, vendor_type in queues.resume(job_type):
                enqueue(task_id, vendor_type)
        else:
            _stop_pending(queues.purge(job_type), actor)
    except LookupError:
        raise DomainError(Code.NOT_FOUND, f"no job type {job_type}") from None
    _audit_queue(actor, job_type, action)


def _stop_pending(vendor_types: list[str], actor: Actor) -> None:
    pending = Execution.objects.filter(vendor_type__in=vendor_types, status=Status.PENDING)
    for execution in pending:
        request_stop(execution, actor=actor)


def stop_job(*, task: Task, actor: Actor) -> None:
    """/jobservice/jobs/{id}: stop the execution the task belongs to."""
    request_stop(task.execution, actor=actor)


def stop_running_jobs(*, actor: Actor) -> int:
    """/jobservice/jobs/all (Harbor's `all`, in any case): stop every execution that has a
    running task; how many."""
    running = Execution.objects.filter(tasks__status=Status.RUNNING).exclude(status__in=FINAL)
    executions = list(running.distinct())
    for execution in executions:
        request_stop(execution, actor=actor)
    return len(executions)
