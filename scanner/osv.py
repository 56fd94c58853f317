"""OSV records (https://ossf.github.io/osv-schema/): reading them, normalizing what the
scanner matches on, and deciding whether an installed version is affected.

A record is affected-matched per `affected` entry: the version is listed in `versions`, or
falls in one of the ECOSYSTEM/SEMVER `ranges` (GIT ranges name commits, not versions, and
are skipped). A range's events are evaluated in version order as the schema says:
`introduced` opens, `fixed` closes (the fixed version is not affected), `last_affected`
closes after its version, `limit` bounds the whole range. Withdrawn records never match.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvss import CVSS3, CVSS4
from packaging.utils import canonicalize_name

from scanner import versions

SEVERITIES = ("Unknown", "Negligible", "Low", "Medium", "High", "Critical")
RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

_WORDS = {
    "CRITICAL": "Critical",
    "HIGH": "High",
    "IMPORTANT": "High",
    "MODERATE": "Medium",
    "MEDIUM": "Medium",
    "LOW": "Low",
    "NEGLIGIBLE": "Negligible",
    "UNIMPORTANT": "Negligible",
}


def split_ecosystem(value: str) -> tuple[str, str]:
    """`Debian:12` -> ("Debian", "12"); `Ubuntu:22.04:LTS` -> ("Ubuntu", "22.04");
    `PyPI` -> ("PyPI", ""); Red Hat's CPE-like `Red Hat:enterprise_linux:9::appstream` (or
    `Red Hat:rhel_eus:9.2::baseos`) -> ("Red Hat", "9"), the major release an image's
    os-release names (scanner.inventory); SUSE's products (`SUSE:Linux Enterprise Server
    15 SP5`) -> ("SUSE", "...") as given."""
    base, _, rest = value.partition(":")
    if base == "Red Hat":
        numbered = [part for part in rest.split(":") if part[:1].isdigit()]
        return base, numbered[0].split(".")[0] if numbered else ""
    if base == "SUSE":
        return base, rest
    release = rest.split(":", 1)[0]
    return base, release


def normalize_name(ecosystem: str, name: str) -> str:
    """The name as matched: PEP 503 for PyPI, lower case for the distributions' packages."""
    if ecosystem == "PyPI":
        return canonicalize_name(name)
    if ecosystem in ("Debian", "Ubuntu", "Alpine"):
        return name.lower()
    return name


def severity_from_score(score: float) -> str:
    if score >= 9.0:
        return "Critical"
    if score >= 7.0:
        return "High"
    if score >= 4.0:
        return "Medium"
    if score > 0.0:
        return "Low"
    return "Negligible"


def _cvss(record: dict[str, Any]) -> tuple[str, float | None]:
    """The record's CVSS vector and base score (computed by the cvss library)."""
    for kind, cls in (("CVSS_V3", CVSS3), ("CVSS_V4", CVSS4)):
        for item in record.get("severity") or []:
            if isinstance(item, dict) and item.get("type") == kind:
                vector = str(item.get("score", ""))
                try:
                    return vector, float(cls(vector).base_score)
                except Exception:  # the library's own errors: a vector it cannot read
                    continue
    return "", None


def _word(value: Any) -> str:
    return _WORDS.get(str(value).strip().upper(), "") if value else ""


def record_severity(record: dict[str, Any]) -> tuple[str, str, float | None]:
    """(Harbor severity, CVSS vector, score): the CVSS score when the record has a vector,
    else the database's own word (GitHub's `database_specific.severity`), else Unknown."""
    vector, score = _cvss(record)
    if score is not None:
        return severity_from_score(score), vector, score
    word = _word((record.get("database_specific") or {}).get("severity"))
    return word or "Unknown", vector, None


@dataclass
class Affected:
    ecosystem: str
    release: str
    name: str
    ranges: list[dict[str, Any]] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    severity: str = ""


@dataclass
class Record:
    id: str
    modified: str
    withdrawn: str
    summary: str
    details: str
    aliases: list[str]
    severity: str
    cvss_vector: str
    cvss_score: float | None
    cwe_ids: list[str]
    links: list[str]
    affected: list[Affected]


def parse_record(data: dict[str, Any]) -> Record:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise ValueError("not an OSV record (no id)")
    severity, vector, score = record_severity(data)
    affected = []
    for item in data.get("affected") or []:
        package = item.get("package") or {}
        ecosystem, release = split_ecosystem(str(package.get("ecosystem", "")))
        name = str(package.get("name", ""))
        if not ecosystem or not name:
            continue
        specific = item.get("ecosystem_specific") or {}
        affected.append(
            Affected(
                ecosystem=ecosystem,
                release=release,
                name=normalize_name(ecosystem, name),
                ranges=[r for r in item.get("ranges") or [] if r.get("type") != "GIT"],
                versions=[str(v) for v in item.get("versions") or []],
                severity=_word(specific.get("severity") or specific.get("urgency")),
            )
        )
    database = data.get("database_specific") or {}
    cwe_ids = database.get("cwe_ids") or []
    return Record(
        id=data["id"],
        modified=str(data.get("modified", "")),
        withdrawn=str(data.get("withdrawn") or ""),
        summary=str(data.get("summary", "")),
        details=str(data.get("details", "")),
        aliases=[str(a) for a in data.get("aliases") or []],
        severity=severity,
        cvss_vector=vector,
        cvss_score=score,
        cwe_ids=[str(c) for c in cwe_ids if isinstance(c, str)],
        links=[str(r["url"]) for r in data.get("references") or [] if r.get("url")],
        affected=affected,
    )


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON records of an OSV export: a per-ecosystem zip (`all.zip` of
    osv-vulnerabilities), a directory of `*.json` files (searched recursively), or one
    JSON file. A member that is not JSON raises ValueError naming it."""
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield _load(file.name, file.read_bytes())
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    yield _load(info.filename, archive.read(info))
    elif path.is_file():
        yield _load(path.name, path.read_bytes())
    else:
        raise ValueError(f"{path}: no such file or directory")


def _load(name: str, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"{name}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{name}: not an OSV record")
    return value


# -- matching --------------------------------------------------------------------------------


# Only `<` is used on versions: univers' AlpineLinuxVersion orders with `<` and `>` by
# apk's rules but inherits `<=` and `>=` from attrs, which compare the strings
# ("1.2.4-r9" >= "1.2.4-r10"); tests/unit/test_scanner_matching.py holds that case.
def _at_or_above(version: Any, bound: Any) -> bool:
    return bound is versions.LOWEST or not version < bound


def _in_range(ecosystem: str, version: Any, events: list[dict[str, str]]) -> tuple[bool, str]:
    """(affected, the fixed version that closes the interval holding `version`)."""
    parsed: list[tuple[Any, str, str]] = []
    limits = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if kind in event:
                value = versions.parse_event(ecosystem, str(event[kind]))
                if value is None:
                    continue
                if kind == "limit":
                    limits.append(value)
                else:
                    parsed.append((value, kind, str(event[kind])))
    if any(limit is not versions.LOWEST and not version < limit for limit in limits):
        return False, ""
    lowest = [item for item in parsed if item[0] is versions.LOWEST]
    rest = sorted((item for item in parsed if item[0] is not versions.LOWEST), key=_key)
    affected = False
    fix = ""
    for value, kind, text in lowest + rest:
        if kind == "introduced" and _at_or_above(version, value):
            affected = True
        elif kind == "fixed":
            if not version < value:
                affected = False
            elif affected and not fix:
                fix = text
        elif kind == "last_affected" and value < version:
            affected = False
    return affected, fix if affected else ""


class _SortKey:
    def __init__(self, item: tuple[Any, str, str]) -> None:
        self.value = item[0]

    def __lt__(self, other: _SortKey) -> bool:
        return bool(self.value < other.value)


def _key(item: tuple[Any, str, str]) -> _SortKey:
    return _SortKey(item)


def affects(affected: Affected, version_text: str) -> tuple[bool, str]:
    """Whether `version_text` is affected, and the version that fixes it ("" if none)."""
    if version_text in affected.versions:
        return True, _fix_from_ranges(affected, version_text)
    version = versions.parse(affected.ecosystem, version_text)
    if version is None:
        return False, ""
    for rng in affected.ranges:
        hit, fix = _in_range(affected.ecosystem, version, list(rng.get("events") or []))
        if hit:
            return True, fix
    return False, ""


def _fix_from_ranges(affected: Affected, version_text: str) -> str:
    version = versions.parse(affected.ecosystem, version_text)
    if version is None:
        return ""
    for rng in affected.ranges:
        hit, fix = _in_range(affected.ecosystem, version, list(rng.get("events") or []))
        if hit:
            return fix
    return ""


def releases_match(package_release: str, record_release: str) -> bool:
    """A record for `Debian:12` applies to a Debian 12 image; one without a release, or an
    image whose release the scanner could not read, matches any."""
    return not package_release or not record_release or package_release == record_release


def worst(severities: Iterable[str]) -> str:
    found = [s for s in severities if s in RANK]
    return max(found, key=RANK.__getitem__) if found else "Unknown"
