from __future__ import annotations

from celery import shared_task

from audit import forwarding


@shared_task(name="audit.tasks.forward_audit_log", ignore_result=True)
def forward_audit_log() -> int:
    """Started after commits that wrote outbox entries, and by django-celery-beat (migration
    audit 0003) as a safety net."""
    return forwarding.drain()
