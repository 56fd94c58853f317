"""Packages against OSV candidates: the findings of a scan.

A finding is small on purpose (it is cached per layer and stored per scan, thousands at a
time): the advisory's id, the package's path, name and version (which find it in the
scan's package list), the fixing version and the severity. The advisory's text is read
from the database when a report is rendered.
"""

from __future__ import annotations

from typing import Any

from scanner import osv


def find(
    packages: list[dict[str, Any]], index: dict[tuple[str, str], list[Any]]
) -> list[dict[str, Any]]:
    """One finding per (advisory, package at its path): the version that fixes it ("" if
    none) and the severity (the affected entry's own, else the record's)."""
    findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for package in packages:
        for affected, advisory in index.get((package["ecosystem"], package["key"]), ()):
            if not osv.releases_match(package["release"], affected.release):
                continue
            hit, fix = osv.affects(affected, package["match_version"])
            if not hit:
                continue
            key = (advisory["id"], package["name"], package["version"], package["path"])
            if key in findings:
                continue
            findings[key] = {
                "id": advisory["id"],
                "path": package["path"],
                "name": package["name"],
                "version": package["version"],
                "fix_version": fix,
                "severity": affected.severity or advisory["severity"],
            }
    return ordered(list(findings.values()))


def ordered(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst first, then by advisory and package."""
    return sorted(
        findings,
        key=lambda f: (-osv.RANK.get(f["severity"], 0), f["id"], f["name"], f["path"]),
    )
