"""The events the audit log publishes (harbor_py.core.events; docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@event("audit_logged")
@dataclass(frozen=True)
class AuditLogged(Event):
    """Audit entries were written to the forwarding outbox (audit_outbox), in the commit
    that published this; published only while forwarding is configured."""

    entries: int
