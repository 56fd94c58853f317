"""The audit-log purge job (vendor PURGE_AUDIT_LOG): deletes old entries in small batches,
so no long lock is ever held on the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditLog
from harbor_py.core.errors import bad_request
from jobs.context import JobContext, Stopped

BATCH = 5000
# audit_log refuses DELETE on PostgreSQL unless this is set in the transaction (0002).
PURGE_SETTING = "harbor.audit_purge"


def check_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    hours = raw.get("audit_retention_hour", 24 * 30)
    if isinstance(hours, str) and hours.isdigit():
        hours = int(hours)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 0 < hours <= 240000:
        raise bad_request("audit_retention_hour must be an integer between 1 and 240000")
    types = raw.get("include_event_types", "")
    if not isinstance(types, str):
        raise bad_request("include_event_types must be a comma-separated string")
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise bad_request("dry_run must be a boolean")
    return {
        "audit_retention_hour": hours,
        "include_event_types": ",".join(t.strip().lower() for t in types.split(",") if t.strip()),
        "dry_run": dry_run,
    }


def _selection(parameters: dict[str, Any]) -> Any:
    cutoff = timezone.now() - dt.timedelta(hours=parameters["audit_retention_hour"])
    entries = AuditLog.objects.filter(op_time__lt=cutoff)
    types = [t for t in parameters["include_event_types"].split(",") if t]
    if types:
        condition = Q()
        for event_type in types:
            operation, _, resource_type = event_type.partition("_")
            condition |= Q(operation=operation, resource_type=resource_type)
        entries = entries.filter(condition)
    return entries


def purge(context: JobContext) -> dict[str, object]:
    parameters = check_parameters(context.parameters)
    entries = _selection(parameters)
    context.log(
        f"purging audit entries older than {parameters['audit_retention_hour']} h"
        f"{' (dry run)' if parameters['dry_run'] else ''}"
    )
    if parameters["dry_run"]:
        count = entries.count()
        context.log(f"dry run: {count} entries would be deleted")
        return {"purged": 0, "would_purge": count}
    purged = 0
    while True:
        if context.should_stop():
            context.log(f"{purged} entries deleted before the stop")
            raise Stopped
        ids = list(entries.order_by("op_time", "id").values_list("id", flat=True)[:BATCH])
        if not ids:
            break
        purged += delete_entries(ids)
    context.log(f"{purged} entries deleted")
    return {"purged": purged}


def delete_entries(ids: list[int]) -> int:
    """The only way entries leave audit_log. One short transaction per batch."""
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        if postgres:
            _allow_deletes(True)
        deleted = AuditLog.objects.filter(id__in=ids).delete()[0]
        if postgres:  # also when called inside a longer transaction
            _allow_deletes(False)
        return deleted


def _allow_deletes(allowed: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(%s, %s, true)", [PURGE_SETTING, "on" if allowed else "off"]
        )
