"""Django's PostgreSQL backend with a health check that costs no round trip.

Connections persist between requests (CONN_MAX_AGE), so they outlive a PostgreSQL restart
or failover: unchecked, the first query of every gunicorn thread and Celery process after
one fails, and the request answers 500. Django's own check (CONN_HEALTH_CHECKS) sends
`SELECT 1` before the first query of every request, a round trip on each registry request.
A server that ends a session says why and closes the socket, so an idle connection whose
socket has something to read is dead (or holds a notice nobody waits for, and reconnecting
loses nothing); one with nothing to read, and no transaction left open, is used as it is.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        if self.connection is None or self.connection.closed:
            return False
        if self.connection.info.transaction_status != TransactionStatus.IDLE:
            return False  # a transaction left open or failed: start afresh
        try:
            poller = select.poll()  # not select(): descriptors above 1023 are fine
            poller.register(self.connection.fileno(), select.POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
