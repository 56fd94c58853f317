"""Harbor's CVE export (/export/cve): a job that writes the findings of one project's
successful vulnerability reports as CSV.

The CSV lives as long as Harbor keeps its system artifact: a download deletes it and its
execution (Harbor's `cleanUpArtifact` after `downloadScanData`), and one not downloaded is
deleted RETENTION_SECONDS (24 h, `HARBOR["SCAN_EXPORT_RETENTION_SECONDS"]`) after its job
ended (Harbor's daily system artifact cleanup, `DefaultCleanupWindowSeconds`) by the
periodic `scanning.tasks.purge_exports`; its execution stays, `file_present` false."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request
from jobs import services as job_services
from jobs.context import JobContext
from jobs.models import Execution
from projects.models import Project
from scanning import selectors
from scanning.models import Export, ScanReport, Vulnerability

EXPORT_JOB = "SCAN_DATA_EXPORT"
RETENTION_SECONDS = 86400
COLUMNS = [
    "Project",
    "Repository",
    "Digest",
    "Tags",
    "CVE",
    "Package",
    "Version",
    "Fixed in version",
    "Severity",
    "CVSS3 Score",
    "Additional Info",
]


def _braced(value: str | None) -> list[str]:
    """Harbor's `{a,b}` lists (a plain value is a list of one)."""
    if not value:
        return []
    return [
        item.strip() for item in re.sub(r"^\{|\}$", "", value.strip()).split(",") if item.strip()
    ]


@transaction.atomic
def start_export(*, project: Project, criteria: dict[str, Any], actor: Actor) -> Execution:
    parameters = {
        "project_id": project.pk,
        "repositories": _braced(criteria.get("repositories")),
        "tags": _braced(criteria.get("tags")),
        "cve_ids": _braced(criteria.get("cveIds")),
        "labels": [int(x) for x in criteria.get("labels") or []],
        "job_name": str(criteria.get("job_name") or ""),
    }
    execution = job_services.start_execution(
        vendor_type=EXPORT_JOB, vendor_id=project.pk, parameters=parameters, actor=actor
    )
    Export.objects.create(
        execution_id=execution.pk, user_id=actor.user_id, user_name=actor.username
    )
    return execution


def check_criteria(criteria: Any) -> dict[str, Any]:
    if not isinstance(criteria, dict):
        raise bad_request(
            "the body must be a ScanDataExportRequest object", key="export.project_required"
        )
    projects = criteria.get("projects")
    if not isinstance(projects, list) or len(projects) != 1 or not isinstance(projects[0], int):
        raise bad_request(
            "projects must hold exactly one project id", key="export.project_required"
        )
    return criteria


def run_export(context: JobContext) -> dict[str, Any] | None:
    params = context.parameters
    project = Project.objects.get(pk=params["project_id"])
    scanner = selectors.scanner_of(project)
    rows = Vulnerability.objects.none()
    if scanner is not None:
        reports = ScanReport.objects.filter(
            selectors.latest_success(),
            registration_uuid=scanner.uuid,
            artifact__repository__project=project,
        )
        if params["repositories"]:
            prefix = project.name + "/"
            names = [r if r.startswith(prefix) else prefix + r for r in params["repositories"]]
            reports = reports.filter(artifact__repository__name__in=names)
        if params["tags"]:
            reports = reports.filter(artifact__tags__name__in=params["tags"])
        if params["labels"]:
            reports = reports.filter(artifact__labels__id__in=params["labels"])
        rows = Vulnerability.objects.filter(report__in=reports.distinct())
        if params["cve_ids"]:
            rows = rows.filter(cve_id__in=params["cve_ids"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for finding in rows.select_related("report__artifact__repository").order_by("report_id", "pk"):
        artifact = finding.report.artifact
        tags = ",".join(sorted(artifact.tags.values_list("name", flat=True)))
        writer.writerow(
            [
                project.name,
                artifact.repository.name,
                artifact.digest,
                tags,
                finding.cve_id,
                finding.package,
                finding.version,
                finding.fixed_version,
                finding.severity,
                "" if finding.cvss_v3_score is None else finding.cvss_v3_score,
                " ".join(finding.links),
            ]
        )
        count += 1
    Export.objects.filter(execution_id=context.execution_id).update(
        content=out.getvalue(), file_present=True
    )
    context.log(f"{count} vulnerabilities exported")
    return {"rows": count}


def retention_seconds() -> int:
    return int(settings.HARBOR.get("SCAN_EXPORT_RETENTION_SECONDS", RETENTION_SECONDS))


@transaction.atomic
def forget_downloaded(*, export: Export) -> None:
    """After a download, as Harbor: the CSV and its execution (and tasks) are deleted."""
    Execution.objects.filter(pk=export.execution_id, vendor_type=EXPORT_JOB).delete()
    Export.objects.filter(pk=export.pk).delete()


def purge_expired(now: datetime | None = None) -> int:
    """Delete the CSVs of exports that ended more than retention_seconds() ago; their
    executions stay (file_present false). The number of files deleted."""
    cutoff = (now or timezone.now()) - timedelta(seconds=retention_seconds())
    ended = Execution.objects.filter(vendor_type=EXPORT_JOB, end_time__lt=cutoff).values("pk")
    return Export.objects.filter(execution_id__in=ended, file_present=True).update(
        content="", file_present=False
    )


def visible_to(user: Any) -> list[tuple[Execution, Export]]:
    """The CVE exports a user may see, newest first: their own; all for a system
    administrator (the API's execution list and the security hub)."""
    mine = Export.objects.all()
    if not user.is_superuser:
        mine = mine.filter(user_name=user.username)
    by_execution = {e.execution_id: e for e in mine}
    executions = Execution.objects.filter(
        vendor_type=EXPORT_JOB, pk__in=list(by_execution)
    ).order_by("-start_time")
    return [(e, by_execution[e.pk]) for e in executions]
