"""The security hub's vulnerability list (/security/vul): findings of the default
scanner's successful reports, filtered with Harbor's q= keys."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from harbor_py.core.query import Field, apply_query
from scanning import selectors
from scanning.models import ScanReport, Vulnerability

FIELDS = {
    "cve_id": Field("cve_id"),
    "severity": Field("severity", fuzzy=False),
    "package": Field("package"),
    "cvss_score_v3": Field("cvss_v3_score", cast=float, fuzzy=False, ranged=True),
    "repository_name": Field("report__artifact__repository__name"),
    "project_id": Field("report__artifact__repository__project_id", cast=int, fuzzy=False),
    "digest": Field("report__digest", fuzzy=False),
    "tag": Field("report__artifact__tags__name"),
}


def vulnerabilities(q: str | None) -> QuerySet[Vulnerability]:
    scanner = selectors.default_scanner()
    reports = ScanReport.objects.filter(
        selectors.latest_success(), registration_uuid=scanner.uuid if scanner else ""
    )
    rows = Vulnerability.objects.filter(report__in=reports)
    return (
        apply_query(rows, q, FIELDS)
        .select_related("report__artifact__repository")
        .order_by("-cvss_v3_score", "cve_id", "pk")
        .distinct()
    )


def items(rows: list[Vulnerability], *, with_tag: bool) -> list[dict[str, Any]]:
    found = []
    for row in rows:
        artifact = row.report.artifact
        item: dict[str, Any] = {
            "project_id": artifact.repository.project_id,
            "repository_name": artifact.repository.name,
            "digest": artifact.digest,
            "cve_id": row.cve_id,
            "severity": row.severity,
            "package": row.package,
            "version": row.version,
            "fixed_version": row.fixed_version,
            "desc": row.description,
            "links": row.links,
        }
        if row.cvss_v3_score is not None:
            item["cvss_v3_score"] = row.cvss_v3_score
        if with_tag:
            item["tags"] = sorted(artifact.tags.values_list("name", flat=True))
        found.append(item)
    return found
