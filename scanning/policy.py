"""The pull check of `prevent_vul` (registered in registry.pull_policy by ScanningConfig).

As Harbor's vulnerable middleware: with `prevent_vul` on, a manifest GET of an artifact
whose vulnerability report (from the project's scanner) lists vulnerabilities at or above
the project's `severity` is refused with 412 and a message naming their count; CVEs of the
allowlist in force (the system's while `reuse_sys_cve_allowlist` is not "false", else the
project's; an expired allowlist exempts nothing) do not count.

An artifact that has no successful report (never scanned, scanning, failed) is pulled:
Harbor allows it too (no report found: "skip the vulnerability prevention checking").
An index counts its children's findings, and is allowed while a child has no successful
report. Nobody is exempt (robots and administrators included) except the short-lived token
that a scan hands to the scanner, as Harbor exempts its scanner robot.
"""

from __future__ import annotations

import time
from typing import Any

from registry.pull_policy import PullRequest
from scanning import cache, reports, selectors

DEFAULT_SEVERITY = "low"


def _findings(artifact_id: int, gen: int, key: str, found: dict[str, Any]) -> dict[str, Any]:
    value = found.get(key)
    if value is None:
        value = selectors.policy_findings(artifact_id)
        cache.put(key, value)
    return value


def check(request: PullRequest) -> str | None:
    metadata = request.metadata
    if metadata.get("prevent_vul") != "true":
        return None  # off: no query, no cache
    project = request.repository.project
    gen = cache.generation()
    vkey = cache.findings_key(request.artifact.pk, gen)
    reuse = metadata.get("reuse_sys_cve_allowlist", "true") != "false"
    akey = cache.allowlist_key(project.pk, reuse, gen)
    found = cache.get_many([vkey, akey])
    verdict = _findings(request.artifact.pk, gen, vkey, found)
    if not verdict["success"]:
        return None
    severity = reports.PROJECT_SEVERITY.get(
        (metadata.get("severity") or DEFAULT_SEVERITY).lower(), "Low"
    )
    floor = reports.RANK[severity]
    if not any(rank >= floor for _, rank in verdict["findings"]):
        return None
    allowed = found.get(akey)
    if allowed is None:
        allowlist = selectors.allowlist_in_force(project)
        allowed = {
            "items": list(allowlist.items) if allowlist else [],
            "expires_at": allowlist.expires_at if allowlist else None,
        }
        cache.put(akey, allowed)
    expires_at = allowed["expires_at"]
    exempt = (
        set() if expires_at is not None and expires_at <= time.time() else set(allowed["items"])
    )
    count = sum(1 for cve, rank in verdict["findings"] if rank >= floor and cve not in exempt)
    if count == 0 or cache.is_scanner_subject(request.subject):
        return None
    return (
        f'current image with "{count} vulnerabilities" cannot be pulled due to configured '
        f'policy in \'Prevent images with vulnerability severity of "{severity}" or higher '
        "from running.' To continue with pull, please contact your project administrator to "
        "exempt matched vulnerabilities through configuring the CVE allowlist."
    )
