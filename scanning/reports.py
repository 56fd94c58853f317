"""Reading the reports an adapter returns (vulnerability report v1.1, SBOM report 1.0) and
summarising them as Harbor does (NativeReportSummary)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scanning.adapter import AdapterError

# Harbor's severities, lowest first (pkg/scan/vuln: None < Unknown < Negligible < ... ).
SEVERITIES = ("None", "Unknown", "Negligible", "Low", "Medium", "High", "Critical")
RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# project metadata `severity` (lower case) -> the lowest severity that is refused
PROJECT_SEVERITY = {
    "none": "None",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "Critical",
}
MAX_FINDINGS = 100_000


@dataclass(frozen=True)
class Finding:
    cve_id: str
    package: str
    version: str
    fixed_version: str
    severity: str
    cvss_v3_score: float | None
    description: str
    links: list[str]


def _text(item: dict[str, Any], key: str, limit: int = 512) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AdapterError(f"the report's vulnerability field {key} is not a string")
    return value[:limit]


def severity_of(raw: Any) -> str:
    if raw in RANK:
        return str(raw)
    if isinstance(raw, str) and raw.capitalize() in RANK:
        return raw.capitalize()
    raise AdapterError(f"the report has an unknown severity {raw!r}")


def vulnerability_findings(report: Any) -> list[Finding]:
    """The findings of a HarborVulnerabilityReport; AdapterError when it is malformed."""
    if not isinstance(report, dict):
        raise AdapterError("the vulnerability report is not an object")
    items = report.get("vulnerabilities")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise AdapterError("the report's vulnerabilities are not a list")
    if len(items) > MAX_FINDINGS:
        raise AdapterError(f"the report lists more than {MAX_FINDINGS} vulnerabilities")
    findings = []
    for item in items:
        if not isinstance(item, dict):
            raise AdapterError("a vulnerability of the report is not an object")
        cve_id = _text(item, "id", 255)
        if not cve_id:
            raise AdapterError("a vulnerability of the report has no id")
        cvss = item.get("preferred_cvss")
        score = cvss.get("score_v3") if isinstance(cvss, dict) else None
        links = item.get("links") or []
        findings.append(
            Finding(
                cve_id=cve_id,
                package=_text(item, "package"),
                version=_text(item, "version", 255),
                fixed_version=_text(item, "fix_version", 255),
                severity=severity_of(item.get("severity", "Unknown")),
                cvss_v3_score=float(score) if isinstance(score, int | float) else None,
                description=_text(item, "description", 10_000),
                links=[link for link in links if isinstance(link, str)][:20]
                if isinstance(links, list)
                else [],
            )
        )
    return findings


def summarize(findings: list[Finding]) -> dict[str, Any]:
    """VulnerabilitySummary plus the overall severity (the highest found, None without)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    overall = max(counts, key=RANK.__getitem__) if counts else "None"
    return {
        "total": len(findings),
        "fixable": sum(1 for f in findings if f.fixed_version),
        "summary": counts,
        "severity": overall,
    }


def merge_summaries(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """An index's summary: the sum of its children's."""
    counts: dict[str, int] = {}
    for summary in summaries:
        for severity, count in summary.get("summary", {}).items():
            counts[severity] = counts.get(severity, 0) + count
    overall = max(counts, key=RANK.__getitem__) if counts else "None"
    return {
        "total": sum(s.get("total", 0) for s in summaries),
        "fixable": sum(s.get("fixable", 0) for s in summaries),
        "summary": counts,
        "severity": overall,
    }


def sbom_document(report: Any) -> tuple[str, dict[str, Any]]:
    """(media type, SBOM document) of a HarborSbomReport."""
    if not isinstance(report, dict):
        raise AdapterError("the SBOM report is not an object")
    media_type, sbom = report.get("media_type"), report.get("sbom")
    if media_type not in ("application/spdx+json", "application/vnd.cyclonedx+json"):
        raise AdapterError(f"the SBOM report has an unknown media_type {media_type!r}")
    if not isinstance(sbom, dict):
        raise AdapterError("the SBOM report has no sbom object")
    return media_type, sbom


def sbom_contents(report: Any) -> dict[str, Any] | None:
    """What the SBOM card shows of a stored HarborSbomReport: its format and version, the
    number of components (SPDX `packages`, CycloneDX `components`) and its creation time;
    None when the report holds no SBOM document."""
    try:
        media_type, document = sbom_document(report)
    except AdapterError:
        return None
    if media_type == "application/spdx+json":
        items = document.get("packages")
        version = str(document.get("spdxVersion") or "SPDX")
        created = (document.get("creationInfo") or {}).get("created", "")
        kind = "SPDX"
    else:
        items = document.get("components")
        version = f"CycloneDX {document.get('specVersion') or ''}".strip()
        created = (document.get("metadata") or {}).get("timestamp", "")
        kind = "CycloneDX"
    return {
        "format": kind,
        "version": version,
        "media_type": media_type,
        "components": len(items) if isinstance(items, list) else 0,
        "created": str(created or ""),
    }
