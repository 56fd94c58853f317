"""Scanning's Celery tasks: periodic housekeeping (scheduled by
scanning/migrations/0002_scan9_export_purge), and the step of a scan deferred by the code
before RetryLater (scanning.scans.resume_deferred)."""

from __future__ import annotations

from celery import shared_task

from scanning import exports, scans


@shared_task(name="scanning.tasks.continue_scan", acks_late=True, ignore_result=True)
def continue_scan(task_id: int, run: int) -> None:
    scans.resume_deferred(task_id, run)


@shared_task(name="scanning.tasks.purge_exports", ignore_result=True)
def purge_exports() -> int:
    """The CVE export CSVs past their retention (scanning.exports)."""
    return exports.purge_expired()
