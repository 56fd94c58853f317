"""The event outbox: one row per event and durable consumer, written in the transaction of
the change that published it and deleted in the transaction that delivered it.

A delivery locks its row (SKIP LOCKED: two deliveries of one row never run at once), calls
the consumer and deletes the row in one transaction: a consumer whose effects are writes
in this database sees each event exactly once; one with other effects (a Celery task, a
request) sees it at least once and dedupes by the row's key. A row whose consumer failed
stays, and the periodic sweep tries it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from harbor_py.core.db import insert
from harbor_py.models import EventOutbox

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 30  # beat's interval for the sweep (harbor_py/migrations/0002_event_outbox)
# A row younger than this is left to the delivery its commit started.
LEFT_OVER_AFTER = dt.timedelta(seconds=20)
SWEEP_BATCH = 500

# (consumer name, event name, payload, dedupe key)
Deliver = Callable[[str, str, dict[str, Any], str], None]


def write(event: str, payload: dict[str, Any], event_id: str, consumers: list[str]) -> list[int]:
    rows = [
        EventOutbox(key=f"{event_id}:{name}", consumer=name, event=event, payload=payload)
        for name in consumers
    ]
    insert(rows, returning_pk=True)
    return [row.pk for row in rows]


def left_over() -> list[int]:
    cutoff = timezone.now() - LEFT_OVER_AFTER
    rows = EventOutbox.objects.filter(created__lt=cutoff).order_by("pk")
    return list(rows.values_list("pk", flat=True)[:SWEEP_BATCH])


def deliver(ids: Iterable[int], call: Deliver) -> int:
    """Deliver each row not delivered (or being delivered) yet; how many were."""
    delivered = 0
    for pk in ids:
        try:
            with transaction.atomic():
                row = EventOutbox.objects.select_for_update(skip_locked=True).filter(pk=pk)
                found = row.first()
                if found is None:
                    continue  # delivered already, or in hand elsewhere
                call(found.consumer, found.event, found.payload, found.key)
                row.delete()
        except Exception:
            logger.exception("event delivery %s failed; the sweep retries it", pk)
            EventOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1)
        else:
            delivered += 1
    return delivered
