"""Reads of scanning: which scanner a project uses, report overviews, findings for the pull
policy, the security hub."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Q

from projects.models import Project
from registry.models import Artifact, ArtifactReference
from scanning import adapter, reports
from scanning.models import (
    CVEAllowlist,
    ProjectScanner,
    ReportStatus,
    Scanner,
    ScanReport,
    Vulnerability,
)

VULN_TYPES = (adapter.VULN_REPORT, adapter.VULN_REPORT_V10)


def default_scanner() -> Scanner | None:
    return Scanner.objects.filter(is_default=True, disabled=False).first()


def scanner_of(project: Project) -> Scanner | None:
    """The project's scanner, else the system default (a disabled one is none)."""
    chosen = ProjectScanner.objects.filter(project=project).select_related("scanner").first()
    if chosen is not None:
        return None if chosen.scanner.disabled else chosen.scanner
    return default_scanner()


def scanners_of(project_ids: list[int]) -> dict[int, Scanner | None]:
    """scanner_of for several projects: one query, two when one of them has no scanner of
    its own (the default's)."""
    chosen = {
        row.project_id: row.scanner
        for row in ProjectScanner.objects.filter(project_id__in=project_ids).select_related(
            "scanner"
        )
    }
    default = default_scanner() if len(chosen) < len(set(project_ids)) else None
    return {
        pk: (None if chosen[pk].disabled else chosen[pk]) if pk in chosen else default
        for pk in project_ids
    }


# Each project's scanner when the caller looked it up already (scanners_of): the pages
# that show several scanning cards look it up once.
Scanners = Mapping[int, Scanner | None]


def _scanner_for(artifact: Artifact, scanners: Scanners | None) -> Scanner | None:
    project_id = artifact.repository.project_id
    if scanners is not None and project_id in scanners:
        return scanners[project_id]
    return scanner_of(artifact.repository.project)


def find_scanner(registration_id: str) -> Scanner | None:
    found = Scanner.objects.filter(uuid=registration_id).first()
    if found is None and registration_id.isdigit():
        found = Scanner.objects.filter(pk=int(registration_id)).first()
    return found


def children_of(artifact: Artifact) -> list[Artifact]:
    ids = ArtifactReference.objects.filter(parent=artifact, child__isnull=False).values_list(
        "child_id", flat=True
    )
    return list(Artifact.objects.filter(pk__in=list(ids)).order_by("pk"))


def parents_of(artifact_ids: Iterable[int]) -> list[int]:
    return list(
        ArtifactReference.objects.filter(child_id__in=list(artifact_ids)).values_list(
            "parent_id", flat=True
        )
    )


def is_index(artifact: Artifact) -> bool:
    return ArtifactReference.objects.filter(parent=artifact).exists()


def _vuln_report(artifact_ids: list[int], registration_uuid: str) -> dict[int, ScanReport]:
    found: dict[int, ScanReport] = {}
    rows = ScanReport.objects.filter(
        artifact_id__in=artifact_ids,
        registration_uuid=registration_uuid,
        mime_type__in=VULN_TYPES,
    ).order_by("mime_type")  # v1.1 ("application/vnd.security...") sorts after v1.0
    for row in rows:
        found[row.artifact_id] = row
    return found


def policy_findings(artifact_id: int) -> dict[str, Any]:
    """{"success": whether every report in play succeeded, "findings": [[cve, rank], ...]}."""
    artifact = Artifact.objects.select_related("repository__project").get(pk=artifact_id)
    scanner = scanner_of(artifact.repository.project)
    nothing: dict[str, Any] = {"success": False, "findings": []}
    if scanner is None:
        return nothing
    children = children_of(artifact)
    targets = [c.pk for c in children] if children else [artifact.pk]
    found = _vuln_report(targets, scanner.uuid)
    if len(found) < len(targets) or any(r.status != ReportStatus.SUCCESS for r in found.values()):
        return nothing
    rows = Vulnerability.objects.filter(report_id__in=[r.pk for r in found.values()]).values_list(
        "cve_id", "severity"
    )
    return {
        "success": True,
        "findings": [[cve, reports.RANK.get(severity, 1)] for cve, severity in rows],
    }


def allowlist_of(project: Project | None) -> CVEAllowlist | None:
    return CVEAllowlist.objects.filter(project=project).first()


def allowlist_in_force(project: Project) -> CVEAllowlist | None:
    if (project.metadata or {}).get("reuse_sys_cve_allowlist", "true") == "false":
        return allowlist_of(project)
    return allowlist_of(None)


def _summary_body(report: ScanReport) -> dict[str, Any]:
    body: dict[str, Any] = {
        "report_id": report.uuid,
        "scan_status": report.status,
        "complete_percent": 100 if report.status == ReportStatus.SUCCESS else 0,
    }
    if report.start_time:
        body["start_time"] = report.start_time.isoformat().replace("+00:00", "Z")
    if report.end_time:
        body["end_time"] = report.end_time.isoformat().replace("+00:00", "Z")
        if report.start_time:
            body["duration"] = int((report.end_time - report.start_time).total_seconds())
    if report.scanner:
        body["scanner"] = report.scanner
    if report.summary is not None:
        summary = report.summary
        body["severity"] = summary.get("severity", "None")
        body["summary"] = {k: summary[k] for k in ("total", "fixable", "summary") if k in summary}
    return body


def _aggregate(children: list[ScanReport | None]) -> dict[str, Any]:
    statuses = [r.status if r else "" for r in children]
    if all(s == ReportStatus.SUCCESS for s in statuses):
        status = ReportStatus.SUCCESS
    elif any(s in (ReportStatus.PENDING, ReportStatus.RUNNING) for s in statuses):
        status = ReportStatus.RUNNING
    elif any(s == ReportStatus.ERROR for s in statuses):
        status = ReportStatus.ERROR
    elif any(s == ReportStatus.STOPPED for s in statuses):
        status = ReportStatus.STOPPED
    else:
        status = ReportStatus.PENDING
    done = [r for r in children if r and r.status == ReportStatus.SUCCESS]
    body: dict[str, Any] = {
        "report_id": "",
        "scan_status": status,
        "complete_percent": int(100 * len(done) / len(children)) if children else 0,
    }
    if done:
        merged = reports.merge_summaries([r.summary or {} for r in done])
        body["severity"] = merged["severity"]
        body["summary"] = {k: merged[k] for k in ("total", "fixable", "summary")}
        if done[0].scanner:
            body["scanner"] = done[0].scanner
    return body


def scan_overviews(
    artifacts: list[Artifact], *, scanners: Scanners | None = None
) -> dict[int, dict[str, Any]]:
    """Harbor's ScanOverview of each artifact (by pk) under its project's scanner, keyed by
    report MIME type; an index aggregates its children. Artifacts without a report are left
    out (Harbor omits scan_overview then)."""
    if not artifacts:
        return {}
    project_ids = list({a.repository.project_id for a in artifacts})
    if scanners is None or not set(project_ids) <= set(scanners):
        scanners = scanners_of(project_ids)
    children = {
        parent: [c for _, c in pairs]
        for parent, pairs in _group(
            ArtifactReference.objects.filter(
                parent_id__in=[a.pk for a in artifacts], child__isnull=False
            ).values_list("parent_id", "child_id")
        ).items()
    }
    wanted = {a.pk for a in artifacts} | {c for cs in children.values() for c in cs}
    by_scanner: dict[tuple[int, str], ScanReport] = {}
    for row in ScanReport.objects.filter(artifact_id__in=wanted, mime_type__in=VULN_TYPES).order_by(
        "mime_type"
    ):
        by_scanner[(row.artifact_id, row.registration_uuid)] = row
    result: dict[int, dict[str, Any]] = {}
    for artifact in artifacts:
        scanner = scanners.get(artifact.repository.project_id)
        if scanner is None:
            continue
        if artifact.pk in children:
            kids = [by_scanner.get((c, scanner.uuid)) for c in children[artifact.pk]]
            if any(kids):
                result[artifact.pk] = {adapter.VULN_REPORT: _aggregate(kids)}
            continue
        own = by_scanner.get((artifact.pk, scanner.uuid))
        if own is not None:
            result[artifact.pk] = {own.mime_type: _summary_body(own)}
    return result


def sbom_overviews(artifacts: list[Artifact]) -> dict[int, dict[str, Any]]:
    rows = ScanReport.objects.filter(
        artifact_id__in=[a.pk for a in artifacts], mime_type=adapter.SBOM_REPORT
    )
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        body = _summary_body(row)
        body.pop("severity", None), body.pop("summary", None), body.pop("complete_percent", None)
        if row.sbom_digest:
            body["sbom_digest"] = row.sbom_digest
        found[row.artifact_id] = body
    return found


def sbom_report(artifact: Artifact, *, scanners: Scanners | None = None) -> ScanReport | None:
    """The artifact's successful SBOM report (its project's scanner's first)."""
    rows = ScanReport.objects.filter(
        artifact=artifact, mime_type=adapter.SBOM_REPORT, status=ReportStatus.SUCCESS
    ).exclude(report=None)
    scanner = _scanner_for(artifact, scanners)
    if scanner is not None:
        own = rows.filter(registration_uuid=scanner.uuid).first()
        if own is not None:
            return own
    return rows.order_by("-end_time", "-pk").first()


def _group(pairs: Iterable[tuple[int, int]]) -> dict[int, list[tuple[int, int]]]:
    grouped: dict[int, list[tuple[int, int]]] = {}
    for parent, child in pairs:
        grouped.setdefault(parent, []).append((parent, child))
    return grouped


def report_of(artifact: Artifact, report_id: str) -> ScanReport | None:
    ids = [artifact.pk, *[c.pk for c in children_of(artifact)]]
    return ScanReport.objects.filter(uuid=report_id, artifact_id__in=ids).first()


def accepted_types(header: str | None) -> list[str]:
    """X-Accept-Vulnerabilities as Harbor reads it: the report types it names that are
    known, in its order (spaces ignored); both (v1.1 first) when it names none."""
    known = {mime.replace(" ", ""): mime for mime in VULN_TYPES}
    named = [known.get(item.replace(" ", "")) for item in (header or "").split(",")]
    return list(dict.fromkeys(m for m in named if m)) or list(VULN_TYPES)


def vulnerabilities(
    artifact: Artifact, accept: list[str] | None = None, *, scanners: Scanners | None = None
) -> dict[str, Any]:
    """getVulnerabilitiesAddition: {MIME type: report} for the first accepted type with a
    successful report (Harbor's rule); an index merges its children's."""
    accept = accept or list(VULN_TYPES)
    scanner = _scanner_for(artifact, scanners)
    if scanner is None:
        return {}
    children = children_of(artifact)
    targets = [c.pk for c in children] if children else [artifact.pk]
    rows = list(
        ScanReport.objects.filter(
            artifact_id__in=targets,
            registration_uuid=scanner.uuid,
            mime_type__in=accept,
            status=ReportStatus.SUCCESS,
        ).order_by("artifact_id")
    )
    for mime in accept:
        done = [r for r in rows if r.mime_type == mime and r.report]
        if done:
            break
    else:
        return {}
    if len(done) == 1 and not children:
        return {mime: done[0].report}
    merged = dict(done[0].report or {})
    merged["vulnerabilities"] = [
        v for r in done for v in (r.report or {}).get("vulnerabilities") or []
    ]
    merged["severity"] = reports.merge_summaries([r.summary or {} for r in done])["severity"]
    return {mime: merged}


def latest_success() -> Q:
    return Q(status=ReportStatus.SUCCESS, mime_type__in=VULN_TYPES)


def security_summary(*, with_cves: bool, with_artifacts: bool) -> dict[str, Any]:
    """Harbor's SecuritySummary over the default scanner's successful reports."""
    scanner = default_scanner()
    uuid = scanner.uuid if scanner else ""
    reports_q = ScanReport.objects.filter(latest_success(), registration_uuid=uuid)
    findings = Vulnerability.objects.filter(report__in=reports_q)
    counts = dict(findings.values_list("severity").annotate(n=Count("id")).order_by())
    body: dict[str, Any] = {
        "total_artifact": Artifact.objects.filter(subject_digest="").count(),
        "scanned_cnt": reports_q.count(),
        "total_vuls": sum(counts.values()),
        "critical_cnt": counts.get("Critical", 0),
        "high_cnt": counts.get("High", 0),
        "medium_cnt": counts.get("Medium", 0),
        "low_cnt": counts.get("Low", 0),
        "none_cnt": counts.get("None", 0),
        "unknown_cnt": counts.get("Unknown", 0) + counts.get("Negligible", 0),
        "fixable_cnt": findings.exclude(fixed_version="").count(),
    }
    if with_cves:
        top = findings.filter(severity__in=["Critical", "High"]).order_by(
            "-cvss_v3_score", "cve_id"
        )[:5]
        body["dangerous_cves"] = [
            {
                "cve_id": f.cve_id,
                "severity": f.severity,
                "cvss_score_v3": f.cvss_v3_score or 0.0,
                "desc": f.description[:500],
                "package": f.package,
                "version": f.version,
            }
            for f in top
        ]
    if with_artifacts:
        rows = (
            reports_q.annotate(
                critical=Count("findings", filter=Q(findings__severity="Critical")),
                high=Count("findings", filter=Q(findings__severity="High")),
                medium=Count("findings", filter=Q(findings__severity="Medium")),
            )
            .filter(Q(critical__gt=0) | Q(high__gt=0) | Q(medium__gt=0))
            .select_related("artifact__repository")
            .order_by("-critical", "-high", "-medium")[:5]
        )
        body["dangerous_artifacts"] = [
            {
                "project_id": r.artifact.repository.project_id,
                "repository_name": r.artifact.repository.name,
                "digest": r.digest,
                "critical_cnt": r.critical,
                "high_cnt": r.high,
                "medium_cnt": r.medium,
            }
            for r in rows
        ]
    return body
