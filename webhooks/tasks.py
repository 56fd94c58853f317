"""Thin Celery tasks of webhooks."""

from __future__ import annotations

from celery import shared_task

from webhooks import services


@shared_task(ignore_result=True)
def purge_executions() -> int:
    """Beat, hourly: webhook executions older than webhook_execution_retention_days go."""
    return services.purge_executions()
