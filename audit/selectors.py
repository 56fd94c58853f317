"""Reads of the audit log.

Lists are newest first, ORDER BY op_time DESC, id DESC, which the (op_time, id) indexes
(alone or after project_id, username, operation or resource_type) serve directly: page 1
stops after page_size index entries whatever the size of the log.

X-Total-Count: counting millions of rows costs PostgreSQL about a second, and a count under
a filter that no single index covers reads a heap page per matching row. So the count is
exact when it is cheap: up to COUNT_EXACT_UP_TO entries and within COUNT_BUDGET_MS
(statement_timeout). Otherwise it is the planner's estimate for the filtered query, never
less than what is known (the exact bound when it was reached; the entries up to and
including this page, plus one when the page is full, so that the pager offers a next
page). Harbor's UI only uses the total to draw its pager.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet

from audit.models import EVENT_TYPES, AuditLog
from harbor_py.core.query import Field, apply_query, apply_sort, as_bool, as_time
from projects.models import ProjectMember
from projects.roles import Role
from projects.selectors import membership_filter

QUERY_FIELDS = {
    "username": Field("username"),
    "resource": Field("resource"),
    "resource_type": Field("resource_type"),
    "operation": Field("operation"),
    "op_time": Field("op_time", cast=as_time, fuzzy=False, ranged=True),
    "operation_result": Field("success", cast=as_bool, fuzzy=False),
}
SORT_FIELDS = {"op_time": "op_time", "id": "id", "username": "username"}
DEFAULT_ORDER = ["-op_time"]
COUNT_EXACT_UP_TO = 10_000
COUNT_BUDGET_MS = 40


def project_entries(project_id: int, *, q: str | None, sort: str | None) -> QuerySet[AuditLog]:
    entries = apply_query(AuditLog.objects.filter(project_id=project_id), q, QUERY_FIELDS)
    return apply_sort(entries, sort, SORT_FIELDS, default=DEFAULT_ORDER)


def administered_project_ids(user: Any) -> list[int]:
    """The projects whose log `user` may read: where it (or one of its groups) is
    ProjectAdmin."""
    if not user.is_authenticated:
        return []
    members = ProjectMember.objects.filter(membership_filter(user), role=Role.PROJECT_ADMIN)
    return sorted(set(members.values_list("project_id", flat=True)))


def visible_entries(user: Any, *, q: str | None, sort: str | None) -> QuerySet[AuditLog]:
    """Sysadmins see every entry; project admins the entries of their projects; others none.
    The project ids are resolved first so that the planner sees a constant list."""
    entries = AuditLog.objects.all()
    if not (user.is_authenticated and user.is_superuser):
        ids = administered_project_ids(user)
        entries = entries.filter(project_id__in=ids) if ids else entries.none()
    entries = apply_query(entries, q, QUERY_FIELDS)
    return apply_sort(entries, sort, SORT_FIELDS, default=DEFAULT_ORDER)


def _estimate(entries: QuerySet[AuditLog]) -> int:
    connection = connections[entries.db]
    sql, params = entries.order_by().values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _bounded_count(entries: QuerySet[AuditLog], limit: int, budget_ms: int) -> int | None:
    """COUNT of at most `limit` rows, or None when it takes longer than `budget_ms`."""
    connection = connections[entries.db]
    with transaction.atomic(using=entries.db), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), "
            "set_config('statement_timeout', %s, true)",
            [f"{budget_ms}ms"],
        )
        previous = cursor.fetchone()[0]
        try:
            with transaction.atomic(using=entries.db):
                return entries.order_by()[:limit].count()
        except OperationalError:  # canceled by statement_timeout
            return None
        finally:
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


def count_entries(
    entries: QuerySet[AuditLog],
    *,
    at_least: int = 0,
    exact_up_to: int | None = None,
    budget_ms: int | None = None,
) -> int:
    """Exact when cheap, else an estimate (see the module docstring)."""
    exact_up_to = COUNT_EXACT_UP_TO if exact_up_to is None else exact_up_to
    budget_ms = COUNT_BUDGET_MS if budget_ms is None else budget_ms
    if connections[entries.db].vendor != "postgresql":
        return entries.count()
    counted = _bounded_count(entries, exact_up_to + 1, budget_ms)
    if counted is not None and counted <= exact_up_to:
        return counted
    return max(_estimate(entries), counted or 0, at_least)


def export_rows(entries: QuerySet[AuditLog], chunk_size: int = 2000) -> Iterator[AuditLog]:
    """All entries of a query, streamed (a server-side cursor on PostgreSQL)."""
    return entries.iterator(chunk_size=chunk_size)


def event_types() -> list[str]:
    return sorted(EVENT_TYPES)
