"""Thin Celery tasks: re-verifying stored signature checks after the trusted keys change."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from signatures import services

logger = logging.getLogger(__name__)


@shared_task(name="signatures.tasks.recheck_signatures", ignore_result=True)
def recheck_signatures(project_id: int | None) -> int:
    return services.recheck(project_id=project_id)


def recheck_after_commit(project_id: int | None) -> None:
    """Start a re-check once the key change commits. Best effort: a broker that is down
    loses nothing but time, as a pull or a page view verifies what is not stored."""

    def start() -> None:
        try:
            recheck_signatures.delay(project_id)
        except Exception:  # the broker is down
            logger.warning("could not start the signature re-check", exc_info=True)

    transaction.on_commit(start)
