"""The job service's queues (Harbor's job service dashboard, issue #25): one Celery queue
per declared job type, paused and resumed for real.

- A run's message goes to its job type's queue (`harbor.job.<type>`, `enqueue`). Every
  worker consumes the queues of the job types that are not paused (`consume_on_start`,
  connected to Celery's `celeryd_after_setup`); a worker started by older code is told
  to consume a queue before a run is sent there (`announce`).
- Pausing a job type records it (a Redis set, which outlives any one worker) and tells
  every worker to stop consuming its queue (`control.cancel_consumer`): its messages wait
  in the broker, and `pending()` counts them there. A message a worker had already taken
  is parked by the runner (`parked_if_paused`): its task stays Pending, flagged `parked`.
- Resuming tells the workers to consume the queue again (`control.add_consumer`), and
  enqueues the parked tasks again: the queue drains.

The dashboard reads the workers from `celery inspect` (stats, active) and the queue
lengths from the broker, never from a table that mirrors them.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import redis
from celery import current_app
from django.utils import timezone

from harbor_py.core import redis_conn
from jobs.models import Status, Task
from jobs.registry import declaration, declared

logger = logging.getLogger(__name__)
PAUSED_KEY = "harbor:jobs:paused"
INSPECT_TIMEOUT = 1.0


def queue_name(vendor_type: str) -> str:
    return f"harbor.job.{vendor_type.lower()}"


def _redis() -> redis.Redis:
    return redis_conn.client(timeout=2.0)


def paused_types() -> set[str]:
    try:
        return {m.decode() for m in _redis().smembers(PAUSED_KEY)}  # type: ignore[union-attr]  # bytes: no decode_responses
    except redis.RedisError:
        logger.warning("could not read the paused job types", exc_info=True)
        return set()


def is_paused(vendor_type: str) -> bool:
    return vendor_type in paused_types()


def parked_if_paused(task: Task, vendor_type: str) -> bool:
    """The runner's guard: a run of a paused job type does not start; its task stays
    Pending (flagged) until the type is resumed."""
    if not is_paused(vendor_type):
        return False
    attrs = {**(task.extra_attrs or {}), "parked": True}
    Task.objects.filter(pk=task.pk, status=Status.PENDING).update(extra_attrs=attrs)
    return True


def _types(job_type: str) -> list[str]:
    """`all` or one declared job type, in any case (Harbor upper-cases what it is given)."""
    if job_type.lower() == "all":
        return [job.vendor_type for job in declared()]
    if declaration(job_type.upper()) is None:
        raise LookupError(job_type)
    return [job_type.upper()]


def pause(job_type: str) -> list[str]:
    types = _types(job_type)
    _redis().sadd(PAUSED_KEY, *types)
    for vendor_type in types:
        current_app.control.cancel_consumer(queue_name(vendor_type))
    return types


def resume(job_type: str) -> list[tuple[int, str]]:
    """The parked tasks, (id, job type), unflagged: the caller enqueues them again."""
    types = _types(job_type)
    _redis().srem(PAUSED_KEY, *types)
    unparked = []
    for vendor_type in types:
        current_app.control.add_consumer(queue_name(vendor_type))
        parked = Task.objects.filter(
            status=Status.PENDING, execution__vendor_type=vendor_type, extra_attrs__parked=True
        )
        for task in parked:
            attrs = {k: v for k, v in task.extra_attrs.items() if k != "parked"}
            Task.objects.filter(pk=task.pk).update(extra_attrs=attrs)
            unparked.append((task.pk, vendor_type))
    return unparked


def purge(job_type: str) -> list[str]:
    """Drop the waiting messages of the job type (its pending executions are stopped by
    the caller)."""
    types = _types(job_type)
    with current_app.connection_for_write() as connection:
        channel: Any = connection.default_channel
        for vendor_type in types:
            channel.queue_purge(queue_name(vendor_type))
    return types


def _broker_counts(types: list[str]) -> dict[str, int]:
    counts = {}
    with current_app.connection_for_read() as connection:
        channel: Any = connection.default_channel
        for vendor_type in types:
            name = queue_name(vendor_type)
            counts[vendor_type] = int(channel.queue_declare(name, passive=False).message_count)
    return counts


def queues() -> list[dict[str, Any]]:
    """Harbor's JobQueue per declared job type: messages waiting in the broker plus the
    runs parked while paused; the latency is the age of the oldest waiting run."""
    types = [job.vendor_type for job in declared()]
    counts = _broker_counts(types)
    paused = paused_types()
    now = timezone.now()
    out = []
    for vendor_type in types:
        waiting = Task.objects.filter(
            status=Status.PENDING, execution__vendor_type=vendor_type, worker=""
        )
        parked = waiting.filter(extra_attrs__parked=True).count()
        oldest = waiting.order_by("creation_time").values_list("creation_time", flat=True).first()
        count = counts.get(vendor_type, 0) + parked
        out.append(
            {
                "job_type": vendor_type,
                "count": count,
                "latency": int((now - oldest).total_seconds()) if oldest and count else 0,
                "paused": vendor_type in paused,
            }
        )
    return out


_announced: dict[str, float] = {}
ANNOUNCE_EVERY = 60.0  # seconds between two announcements of one queue by one process


def announce(vendor_type: str) -> None:
    """Before a run is sent to its job type's queue: every worker is told to consume that
    queue (`control.add_consumer`, Celery's own remote control, which a worker answers
    whatever code it runs; one that consumes it already ignores it). A worker started
    by code older than the per-type queues, or before the job type was declared, so
    picks the run up without a restart. At most once a minute per queue and process;
    never for a paused type (its runs wait, `pause`)."""
    if current_app.conf.task_always_eager:
        return  # no worker: the run happens inline
    now = time.monotonic()
    if now - _announced.get(vendor_type, -ANNOUNCE_EVERY) < ANNOUNCE_EVERY:
        return
    if is_paused(vendor_type):
        return
    try:
        current_app.control.add_consumer(queue_name(vendor_type), reply=False)
    except Exception:  # the broker away: the send that follows fails loudly anyway
        logger.warning("could not announce the queue of %s", vendor_type, exc_info=True)
        return
    _announced[vendor_type] = now


def consume_on_start(sender: Any = None, instance: Any = None, **kwargs: Any) -> None:
    """celeryd_after_setup: this worker consumes the queue of every declared job type that
    is not paused."""
    paused = paused_types()
    for job in declared():
        if job.vendor_type not in paused:
            instance.app.amqp.queues.select_add(queue_name(job.vendor_type))


def _inspect() -> Any:
    return current_app.control.inspect(timeout=INSPECT_TIMEOUT)


def pools() -> list[dict[str, Any]]:
    """Harbor's WorkerPool per Celery worker node, from `inspect stats`."""
    now = timezone.now()
    out = []
    for hostname, stats in sorted((_inspect().stats() or {}).items()):
        uptime = float(stats.get("uptime") or 0)
        pool = stats.get("pool") or {}
        out.append(
            {
                "pid": int(stats.get("pid") or 0),
                "worker_pool_id": hostname,
                "start_at": (now - dt.timedelta(seconds=uptime)).isoformat(),
                "heartbeat_at": now.isoformat(),
                "concurrency": int(pool.get("max-concurrency") or 0),
                "host": hostname.split("@", 1)[-1],
            }
        )
    return out


def workers(pool_id: str) -> list[dict[str, Any]] | None:
    """Harbor's Worker per pool process, with the job it runs (`inspect active`); None
    when no such pool answers."""
    inspect = _inspect()
    stats = inspect.stats() or {}
    if pool_id != "all" and pool_id not in stats:
        return None
    active = inspect.active() or {}
    out = []
    for hostname, node in sorted(stats.items()):
        if pool_id not in ("all", hostname):
            continue
        running = {}
        for item in active.get(hostname, []):
            running[item.get("worker_pid")] = item
        for pid in (node.get("pool") or {}).get("processes") or []:
            item = running.get(pid) or {}
            job_id, job_name, start_at, checkin_at = "", "", None, None
            args = item.get("args") or []
            if item.get("name") == "jobs.tasks.run_task" and args:
                task = Task.objects.select_related("execution").filter(pk=args[0]).first()
                if task is not None:
                    job_id, job_name = str(task.pk), task.execution.vendor_type
                    checkin_at = task.heartbeat.isoformat() if task.heartbeat else None
            elif item:
                job_id, job_name = str(item.get("id", "")), str(item.get("name", ""))
            if item.get("time_start"):
                started = dt.datetime.fromtimestamp(float(item["time_start"]), tz=dt.UTC)
                start_at = started.isoformat()
            worker = {"id": f"{hostname}:{pid}", "pool_id": hostname, "job_name": job_name}
            worker.update(job_id=job_id, check_in="", start_at=start_at, checkin_at=checkin_at)
            out.append(worker)
    return out
