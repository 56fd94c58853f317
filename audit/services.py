"""Writing audit records. Callers run inside the transaction of the change they record, so
that a change and its entry commit, or roll back, together.

What happens to an entry depends on three run-time settings (harbor_py.core.configuration):
  disabled_audit_log_event_types   comma-separated event types that are not recorded at all
  audit_log_forward_endpoint       host:port of a syslog server: the entry also goes to the
                                   outbox (same transaction) and audit.forwarding sends it
  skip_audit_log_database          with an endpoint set, entries go to the outbox only
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis
from django.db import transaction
from django.utils import timezone

from audit.events import AuditLogged
from audit.models import AuditLog, AuditOutbox
from harbor_py.core.actor import Actor
from harbor_py.core.db import insert
from harbor_py.core.events import publish

NAME_MAX = 255  # usernames come from login attempts too: any length
RESOURCE_MAX = 1024
DESCRIPTION_MAX = 1024
ADDRESS_MAX = 64


@dataclass(frozen=True)
class Policy:
    disabled: frozenset[str]
    forward: bool
    store: bool


POLICY_KEYS = (
    "disabled_audit_log_event_types",
    "audit_log_forward_endpoint",
    "skip_audit_log_database",
)


def _settings() -> dict[str, object]:
    """One read of the configuration cache; straight from the database when Redis is not
    there (e.g. `platform prepare` creating the admin before Redis starts)."""
    from harbor_py.core import configuration
    from harbor_py.models import ConfigEntry

    try:
        return configuration.snapshot()
    except redis.RedisError:
        stored = dict(ConfigEntry.objects.filter(key__in=POLICY_KEYS).values_list("key", "value"))
        return {key: stored.get(key, configuration.ITEMS[key].default) for key in POLICY_KEYS}


def policy() -> Policy:
    """The three settings that decide where an entry goes."""
    values = _settings()
    disabled = frozenset(
        t.strip().lower()
        for t in str(values.get("disabled_audit_log_event_types") or "").split(",")
        if t.strip()
    )
    forward = bool(str(values.get("audit_log_forward_endpoint") or "").strip())
    # Without an endpoint, skipping the database would drop entries altogether.
    store = not (forward and values.get("skip_audit_log_database"))
    return Policy(disabled=disabled, forward=forward, store=store)


@dataclass
class Entry:
    """One entry to write in bulk (record_many)."""

    username: str
    operation: str
    resource_type: str
    resource: str
    project_id: int | None = None
    project_name: str = ""
    description: str = ""
    success: bool = True
    client_address: str = ""
    op_time: dt.datetime = field(default_factory=timezone.now)
    event_id: uuid.UUID | None = None

    def row(self) -> AuditLog:
        return AuditLog(
            username=(self.username or "anonymous")[:NAME_MAX],
            operation=self.operation,
            resource_type=self.resource_type,
            resource=self.resource[:RESOURCE_MAX],
            project_id=self.project_id,
            project_name=self.project_name[:NAME_MAX],
            description=self.description[:DESCRIPTION_MAX],
            success=self.success,
            client_address=self.client_address[:ADDRESS_MAX],
            op_time=self.op_time,
            event_id=self.event_id,
        )


def payload(entry: AuditLog) -> dict[str, object]:
    """What the outbox keeps and audit.forwarding sends: the entry, self-contained."""
    return {
        "id": entry.pk,
        "event_type": entry.event_type,
        "username": entry.username,
        "project_id": entry.project_id,
        "project_name": entry.project_name,
        "resource": entry.resource,
        "resource_type": entry.resource_type,
        "operation": entry.operation,
        "description": entry.description,
        "success": entry.success,
        "client_address": entry.client_address,
        "op_time": entry.op_time.astimezone(dt.UTC).isoformat(timespec="microseconds"),
    }


def record(
    *,
    actor: Actor,
    operation: str,
    resource_type: str,
    resource: str,
    project_id: int | None = None,
    project_name: str = "",
    description: str = "",
    success: bool = True,
) -> AuditLog | None:
    """Write one entry in the caller's transaction (or in its own when there is none).
    Returns the entry, unsaved when only forwarded, or None when its type is disabled.
    The actor gives the operator's name and client address. Never pass secrets
    (passwords, tokens) in any field."""
    written = record_entries(
        [
            Entry(
                username=actor.username,
                operation=operation,
                resource_type=resource_type,
                resource=resource,
                project_id=project_id,
                project_name=project_name,
                description=description,
                success=success,
                client_address=actor.client_address,
            )
        ]
    )
    return written[0] if written else None


def record_entries(queued: Sequence[Entry]) -> list[AuditLog]:
    """record() of several entries in one INSERT (a retention batch's deletes): the
    entries written (unsaved when only forwarded), those of disabled types left out."""
    rules = policy()
    entries = [e.row() for e in queued]
    entries = [e for e in entries if e.event_type not in rules.disabled]
    if not entries:
        return []
    # savepoint=False: joins the caller's transaction without a SAVEPOINT round trip.
    with transaction.atomic(savepoint=False):
        if rules.store:
            insert(entries, returning_pk=True)
        if rules.forward:
            insert([AuditOutbox(payload=payload(entry)) for entry in entries])
            publish(AuditLogged(entries=len(entries)))
    return entries


def record_many(entries: Sequence[Entry]) -> int:
    """Bulk-write queued entries (pulls). Entries whose event_id is already stored are
    skipped, so replaying a batch after a crash adds nothing. Returns how many were new."""
    rules = policy()
    rows = [e.row() for e in entries if f"{e.operation}_{e.resource_type}" not in rules.disabled]
    if not rows:
        return 0
    with transaction.atomic(savepoint=False):
        ids = [r.event_id for r in rows if r.event_id is not None]
        if ids and rules.store:
            seen = set(AuditLog.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
            rows = [r for r in rows if r.event_id is None or r.event_id not in seen]
        if rules.store:
            rows = AuditLog.objects.bulk_create(rows)
        if rules.forward and rows:
            AuditOutbox.objects.bulk_create(
                [
                    AuditOutbox(payload=payload(r), event_id=r.event_id or uuid.uuid4())
                    for r in rows
                ],
                ignore_conflicts=True,
            )
            publish(AuditLogged(entries=len(rows)))
    return len(rows)
