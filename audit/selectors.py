"""Reads of the audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from audit.models import EVENT_TYPES, AuditLog
from harbor_py.api.query import Field, apply_query, apply_sort, as_time
from projects.models import ProjectMember
from projects.roles import Role
from projects.selectors import membership_filter

QUERY_FIELDS = {
    "username": Field("username"),
    "resource": Field("resource"),
    "resource_type": Field("resource_type"),
    "operation": Field("operation"),
    "op_time": Field("op_time", cast=as_time, fuzzy=False, ranged=True),
}
SORT_FIELDS = {"op_time": "op_time", "id": "id", "username": "username"}


def project_entries(project_id: int, *, q: str | None, sort: str | None) -> QuerySet[AuditLog]:
    entries = apply_query(AuditLog.objects.filter(project_id=project_id), q, QUERY_FIELDS)
    return apply_sort(entries, sort, SORT_FIELDS, default=["-op_time"])


def visible_entries(user: Any, *, q: str | None, sort: str | None) -> QuerySet[AuditLog]:
    """Sysadmins see every entry; project admins the entries of their projects; others none."""
    entries = AuditLog.objects.all()
    if not (user.is_authenticated and user.is_superuser):
        admin_of = (
            ProjectMember.objects.filter(membership_filter(user), role=Role.PROJECT_ADMIN).values(
                "project_id"
            )
            if user.is_authenticated
            else ProjectMember.objects.none().values("project_id")
        )
        entries = entries.filter(project_id__in=admin_of)
    entries = apply_query(entries, q, QUERY_FIELDS)
    return apply_sort(entries, sort, SORT_FIELDS, default=["-op_time"])


def event_types() -> list[str]:
    return sorted(EVENT_TYPES)
