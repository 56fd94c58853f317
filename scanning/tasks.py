"""Scanning's Celery tasks: the next step of a scan job that re-scheduled itself between two
polls of the adapter (scanning.scans), and periodic housekeeping (scheduled by
scanning/migrations/0002_scan9_export_purge and 0003_scan_polls)."""

from __future__ import annotations

from celery import shared_task

from scanning import exports, scans


@shared_task(name="scanning.tasks.continue_scan", acks_late=True, ignore_result=True)
def continue_scan(task_id: int, run: int) -> None:
    scans.continue_scan(task_id, run)


@shared_task(name="scanning.tasks.resume_polls", ignore_result=True)
def resume_polls() -> int:
    """The deferred scans whose next step is overdue (its message was lost)."""
    return scans.resume_polls()


@shared_task(name="scanning.tasks.purge_exports", ignore_result=True)
def purge_exports() -> int:
    """The CVE export CSVs past their retention (scanning.exports)."""
    return exports.purge_expired()
