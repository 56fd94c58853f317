from __future__ import annotations

import logging

from celery import shared_task
from django.core.cache import cache

from audit import forwarding

logger = logging.getLogger(__name__)


@shared_task(name="audit.tasks.forward_audit_log", ignore_result=True)
def forward_audit_log() -> int:
    """Started after commits that wrote outbox entries, and by django-celery-beat (migration
    audit 0003) as a safety net."""
    return forwarding.drain()


def kick() -> None:
    """After a commit that wrote outbox entries: start a run unless one is due anyway
    (KICK_KEY set and not yet cleared by a run) or the last run failed recently."""
    try:
        if not cache.add(forwarding.KICK_KEY, 1, timeout=60):
            return
        forward_audit_log.delay()
    except Exception:  # the broker is down: beat will pick the entries up
        logger.warning("could not start audit forwarding; beat will retry", exc_info=True)


def on_logged(event: object, key: str) -> None:
    """The consumer of audit_logged (subscribed in AuditConfig.ready)."""
    kick()
