"""Which scanner process holds a scan job, so that the jobs of a process that died end in
an error on whichever node notices first, and a caller's poll always gets an answer.

A job is held by the process that accepted it (`owner` = host:pid): its work is in that
process's memory (the thread pool's queue, and the registry credentials, which are never
stored). Each process renews `heartbeat` on the jobs it holds every HEARTBEAT_SECONDS from
one thread. A queued or running job is abandoned when its heartbeat is older than
STALE_SECONDS (a node that vanished, a process killed with SIGKILL: seen from any node),
or at once when its owner is a process of this host that no longer exists (a restart).
An abandoned job cannot be run again elsewhere (the credentials died with its process):
it ends in `error` with the reason, which the caller records as the scan's error.

Two places end abandoned jobs: a process that starts (`recover`, all of them), and a poll
of the report of one (`end_if_abandoned`, that one), so that no periodic task is needed.
The same scheme as jobs/lease.py (the scanner imports no other app).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from harbor_py.core.owners import gone_from_this_host as _dead_here
from harbor_py.core.owners import this_process
from scanner.models import ScanJob

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 45.0
UNFINISHED = (ScanJob.QUEUED, ScanJob.RUNNING)

_lock = threading.Lock()
_beating: threading.Thread | None = None


def _stale(now: dt.datetime) -> Q:
    cutoff = now - dt.timedelta(seconds=STALE_SECONDS)
    return Q(heartbeat__lt=cutoff) | Q(heartbeat__isnull=True, created__lt=cutoff)


def _message(owner: str) -> str:
    return (
        f"the scanner process that ran this scan ({owner or 'unknown'}) stopped before it finished"
    )


def _end(jobs: Q, now: dt.datetime) -> int:
    ended = 0
    owners = ScanJob.objects.filter(jobs, status__in=UNFINISHED).values_list("owner", flat=True)
    for owner in set(owners):
        ended += ScanJob.objects.filter(jobs, owner=owner, status__in=UNFINISHED).update(
            status=ScanJob.ERROR, message=_message(owner), finished=now
        )
    return ended


def recover() -> int:
    """End every abandoned job: those of any node whose lease is stale, and those of the
    processes of this host that are gone."""
    now = timezone.now()
    here = socket.gethostname() + ":"
    local = ScanJob.objects.filter(status__in=UNFINISHED, owner__startswith=here)
    dead = {owner for owner in local.values_list("owner", flat=True) if _dead_here(owner)}
    return _end(_stale(now) | Q(owner__in=dead), now)


def end_if_abandoned(job: ScanJob) -> bool:
    """For a poll of an unfinished job: end it if its process is gone (compare-and-set on
    its status, so that a job that finishes meanwhile keeps its result)."""
    now = timezone.now()
    cutoff = now - dt.timedelta(seconds=STALE_SECONDS)
    renewed = job.heartbeat or job.created
    if renewed >= cutoff and not _dead_here(job.owner):
        return False
    ended = ScanJob.objects.filter(
        Q(pk=job.pk, status__in=UNFINISHED) & (_stale(now) | Q(owner=job.owner))
    ).update(status=ScanJob.ERROR, message=_message(job.owner), finished=now)
    if ended:
        job.status, job.message, job.finished = ScanJob.ERROR, _message(job.owner), now
        return True
    job.refresh_from_db()
    return job.status == ScanJob.ERROR


def beat_once() -> int:
    """Renew the lease of every unfinished job this process holds."""
    return ScanJob.objects.filter(owner=this_process(), status__in=UNFINISHED).update(
        heartbeat=timezone.now()
    )


def _beat() -> None:
    while True:
        try:
            beat_once()
        except DatabaseError:
            # the database restarts or fails over: the lease goes on at the next beat
            log.warning("scanner: job heartbeat not renewed", exc_info=True)
        finally:
            connection.close()  # this thread's own connection
        time.sleep(HEARTBEAT_SECONDS)


def start_heartbeat() -> None:
    """Start this process's heartbeat thread once (the first scan request starts it)."""
    global _beating
    with _lock:
        if _beating is not None and _beating.is_alive():
            return
        _beating = threading.Thread(target=_beat, daemon=True, name="scan-heartbeat")
        _beating.start()
