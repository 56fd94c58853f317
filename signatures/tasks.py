"""Thin Celery tasks: re-verifying stored signature checks after the trusted keys change."""

from __future__ import annotations

import logging

from celery import shared_task

from signatures import services
from signatures.events import TrustedKeysChanged

logger = logging.getLogger(__name__)


@shared_task(name="signatures.tasks.recheck_signatures", ignore_result=True)
def recheck_signatures(project_id: int | None) -> int:
    return services.recheck(project_id=project_id)


def on_keys_changed(event: TrustedKeysChanged, key: str) -> None:
    """After the key change commits, start a re-check. Best effort: a broker that is down
    loses nothing but time, as a pull or a page view verifies what is not stored."""
    try:
        recheck_signatures.delay(event.project_id or None)
    except Exception:  # the broker is down
        logger.warning("could not start the signature re-check", exc_info=True)
