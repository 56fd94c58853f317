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

from registry.pull_policy import PullRequest
from scanning import cache, reports, selectors

DEFAULT_SEVERITY = "low"


def _count(request: PullRequest, severity: str) -> tuple[int, float | None]:
    """(findings at or above `severity` that the allowlist in force does not exempt, the
    time until which that holds: the allowlist's expiry, or None)."""
    verdict = selectors.policy_findings(request.artifact.pk)
    if not verdict["success"]:
        return 0, None
    floor = reports.RANK[severity]
    at_or_above = [cve for cve, rank in verdict["findings"] if rank >= floor]
    if not at_or_above:
        return 0, None
    project = request.repository.project
    allowlist = selectors.allowlist_in_force(project)
    exempt: set[str] = set()
    valid_until: float | None = None
    if allowlist is not None and (
        allowlist.expires_at is None or allowlist.expires_at > time.time()
    ):
        exempt = set(allowlist.items)
        valid_until = allowlist.expires_at
    return sum(1 for cve in at_or_above if cve not in exempt), valid_until


def check(request: PullRequest) -> str | None:
    metadata = request.metadata
    if metadata.get("prevent_vul") != "true":
        return None  # off: no query, no cache
    severity = reports.PROJECT_SEVERITY.get(
        (metadata.get("severity") or DEFAULT_SEVERITY).lower(), "Low"
    )
    reuse = metadata.get("reuse_sys_cve_allowlist", "true") != "false"
    key = cache.verdict_key(request.artifact.pk, severity, reuse)
    count = cache.local_get(key)
    if count is None:
        count = _shared_count(request, key, severity)
        cache.local_put(key, count)
    if count == 0 or cache.is_scanner_subject(request.subject):
        return None
    return (
        f'current image with "{count} vulnerabilities" cannot be pulled due to configured '
        f'policy in \'Prevent images with vulnerability severity of "{severity}" or higher '
        "from running.' To continue with pull, please contact your project administrator to "
        "exempt matched vulnerabilities through configuring the CVE allowlist."
    )


def _shared_count(request: PullRequest, key: str, severity: str) -> int:
    found = cache.get_many([key, cache.GEN_KEY])
    gen = found.get(cache.GEN_KEY)
    if gen is None:
        gen = cache.generation()
    verdict = found.get(key)
    if (
        verdict is None
        or verdict[0] != gen
        or (verdict[2] is not None and verdict[2] <= time.time())
    ):
        count, valid_until = _count(request, severity)
        verdict = (gen, count, valid_until)
        cache.put(key, verdict)
    return int(verdict[1])
