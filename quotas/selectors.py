"""Reads about quotas: Harbor's listQuotas (reference=project, reference_id, sort)."""

from __future__ import annotations

from django.db.models import QuerySet

from harbor_py.core.query import apply_sort, as_int
from projects.models import Project
from quotas.models import Quota

QUOTA_SORT = {
    "creation_time": "creation_time",
    "update_time": "update_time",
    "hard.storage": "hard",
    "used.storage": "used",
    "id": "pk",
}


def list_quotas(
    *, reference: str | None, reference_id: str | None, sort: str | None
) -> QuerySet[Quota]:
    quotas = Quota.objects.select_related("project", "project__owner")
    if reference not in (None, "", "project"):
        return quotas.none()
    if reference_id not in (None, ""):
        quotas = quotas.filter(project_id=as_int(reference_id))
    return apply_sort(quotas, sort, QUOTA_SORT, default=["pk"])


def project_quota(project_id: int) -> Quota | None:
    return Quota.objects.filter(project_id=project_id).first()


def projects_without_quota() -> QuerySet[Project]:
    return Project.objects.filter(quota__isnull=True)


def find_quota(quota_id: int) -> Quota | None:
    return Quota.objects.select_related("project", "project__owner").filter(pk=quota_id).first()


def summary_quota(quota: Quota) -> dict[str, dict[str, int]]:
    """Harbor's ProjectSummaryQuota."""
    return {"hard": {"storage": quota.hard}, "used": {"storage": quota.used}}
