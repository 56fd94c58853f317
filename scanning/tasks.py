"""Periodic housekeeping of scanning (scheduled by scanning/migrations/0002_scan9_export_purge)."""

from __future__ import annotations

from celery import shared_task

from scanning import exports


@shared_task(name="scanning.tasks.purge_exports", ignore_result=True)
def purge_exports() -> int:
    """The CVE export CSVs past their retention (scanning.exports)."""
    return exports.purge_expired()
