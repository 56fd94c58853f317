"""The event outbox: one row per event and durable consumer, written in the transaction of
the change that published it and deleted in the transaction that delivered it.

A delivery deletes its row (one statement that takes the row with SKIP LOCKED: two
deliveries of one row never run at once) and calls the consumer in one transaction
(`deliver` takes given rows, `deliver_pending` the oldest pending one after another until
none is left): a consumer whose effects are writes in this database sees each event
exactly once; one with other effects (a Celery task, a request) sees it at least once and
dedupes by the row's key. A row whose consumer failed stays, and the periodic sweep tries
it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from harbor_py.core.db import delete_returning, insert
from harbor_py.models import EventOutbox

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 30  # beat's interval for the sweep (harbor_py/migrations/0002_event_outbox)
# A row younger than this is left to the delivery its commit started.
LEFT_OVER_AFTER = dt.timedelta(seconds=20)
SWEEP_BATCH = 500
PENDING_BATCH = 500  # rows one `deliver_pending` takes at most before it leaves the rest

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
    outcomes = (_deliver_first("id = %s", [pk], call) for pk in ids)
    return sum(1 for outcome in outcomes if outcome is not None and outcome[1])


def deliver_pending(call: Deliver, *, limit: int = PENDING_BATCH) -> tuple[int, bool]:
    """Deliver the pending rows, oldest first, until none is left or `limit` were tried:
    (how many were delivered, whether rows may be left). A row in hand elsewhere is
    skipped; a row whose consumer failed is the sweep's (it would fail again now)."""
    delivered = 0
    for _ in range(limit):
        outcome = _deliver_first("attempts = 0", [], call)
        if outcome is None:
            return delivered, False
        delivered += outcome[1]
    return delivered, True


def _deliver_first(condition: str, params: list[Any], call: Deliver) -> tuple[int, bool] | None:
    """Take the first row (by id) matching `condition` that no other delivery holds, call
    its consumer, in one transaction: (its pk, whether it was delivered), or None if there
    was none. The row is deleted first (one statement, which also locks it): a consumer
    that raises rolls the deletion back with its own writes."""
    skip_locked = connection.features.has_select_for_update_skip_locked  # not SQLite
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    first = f"SELECT id FROM event_outbox WHERE {condition} ORDER BY id LIMIT 1{lock}"
    pk = None
    try:
        with transaction.atomic():
            taken = delete_returning(EventOutbox, f"id = ({first})", params)
            if not taken:
                return None  # delivered already, or in hand elsewhere
            row = taken[0]
            pk = row.pk
            call(row.consumer, row.event, row.payload, row.key)
    except Exception:
        if pk is None:
            raise
        logger.exception("event delivery %s failed; the sweep retries it", pk)
        EventOutbox.objects.filter(pk=pk).update(attempts=F("attempts") + 1)
        return pk, False
    return pk, True
