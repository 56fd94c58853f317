"""The OSV database in the platform's database (scanner_advisory, scanner_affected_package):
loaded offline by `manage.py scanner_db import PATH`, read per scan by package key.

PostgreSQL (or the embedded SQLite) rather than a store of its own: the platform already
runs, backs up and replicates it, a scan asks for a few thousand (ecosystem, name) keys
through one index, and several scanner processes share one copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Count, Max

from scanner import osv
from scanner.models import Advisory, AffectedPackage, ImportRun, LayerFindings

BATCH = 1000


def _save_batch(records: list[osv.Record]) -> None:
    with transaction.atomic():
        Advisory.objects.filter(id__in=[r.id for r in records]).delete()
        Advisory.objects.bulk_create(
            [
                Advisory(
                    id=r.id,
                    modified=r.modified,
                    withdrawn=r.withdrawn,
                    summary=r.summary[:10_000],
                    details=r.details[:20_000],
                    aliases=r.aliases,
                    severity=r.severity,
                    cvss_vector=r.cvss_vector[:255],
                    cvss_score=r.cvss_score,
                    cwe_ids=r.cwe_ids,
                    links=r.links[:20],
                )
                for r in records
            ]
        )
        AffectedPackage.objects.bulk_create(
            [
                AffectedPackage(
                    advisory_id=r.id,
                    ecosystem=a.ecosystem[:64],
                    release=a.release[:64],
                    name=a.name[:512],
                    ranges=a.ranges,
                    versions=a.versions,
                    severity=a.severity,
                )
                for r in records
                for a in r.affected
            ],
            batch_size=BATCH,
        )


def import_records(raw: Iterable[dict[str, Any]], *, source: str) -> ImportRun:
    """Load OSV records, replacing any record of the same id (a newer export wins as a
    whole: its affected entries replace the old ones). Duplicate ids within one import keep
    the last. Withdrawn records are stored, and never matched."""
    count = withdrawn = 0
    pending: dict[str, osv.Record] = {}
    for data in raw:
        record = osv.parse_record(data)
        pending[record.id] = record
        count += 1
        withdrawn += bool(record.withdrawn)
        if len(pending) >= BATCH:
            _save_batch(list(pending.values()))
            pending.clear()
    if pending:
        _save_batch(list(pending.values()))
    run = ImportRun.objects.create(source=source, records=count, withdrawn=withdrawn)
    # findings cached per layer were matched against an older database
    LayerFindings.objects.filter(generation__lt=run.pk).delete()
    return run


def generation() -> int:
    """The database's generation: the last import's id (0 before any)."""
    return ImportRun.objects.aggregate(last=Max("id"))["last"] or 0


def import_path(path: Path) -> ImportRun:
    return import_records(osv.read_records(path), source=str(path))


def status() -> dict[str, Any]:
    by_ecosystem = dict(
        AffectedPackage.objects.values_list("ecosystem")
        .annotate(n=Count("advisory_id", distinct=True))
        .order_by("ecosystem")
    )
    last = ImportRun.objects.aggregate(last=Max("finished"))["last"]
    return {
        "records": Advisory.objects.count(),
        "withdrawn": Advisory.objects.exclude(withdrawn="").count(),
        "ecosystems": by_ecosystem,
        "updated_at": last.isoformat() if last else None,
    }


def updated_at() -> str | None:
    last = ImportRun.objects.aggregate(last=Max("finished"))["last"]
    return last.isoformat().replace("+00:00", "Z") if last else None


ADVISORY_COLUMNS = (
    "id",
    "summary",
    "details",
    "aliases",
    "severity",
    "cvss_vector",
    "cvss_score",
    "cwe_ids",
    "links",
)


def candidates(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    """(ecosystem, normalized name) -> [(osv.Affected, {"id", "severity"})], withdrawn
    records left out; one query per ecosystem and 500 names (rows as tuples: a scan may
    read tens of thousands, and model instances would cost more than the matching)."""
    names: dict[str, set[str]] = defaultdict(set)
    for ecosystem, name in keys:
        names[ecosystem].add(name)
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    advisories: dict[str, dict[str, Any]] = {}
    for ecosystem, wanted in names.items():
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):
            rows = (
                AffectedPackage.objects.filter(
                    ecosystem=ecosystem, name__in=ordered[start : start + 500]
                )
                .filter(advisory__withdrawn="")
                .values_list(
                    "release",
                    "name",
                    "ranges",
                    "versions",
                    "severity",
                    "advisory_id",
                    "advisory__severity",
                )
            )
            for release, name, ranges, versions, severity, advisory_id, overall in rows:
                affected = osv.Affected(ecosystem, release, name, ranges, versions, severity)
                fields = advisories.get(advisory_id)
                if fields is None:
                    fields = advisories[advisory_id] = {"id": advisory_id, "severity": overall}
                found[(ecosystem, name)].append((affected, fields))
    return found


def advisories(ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The advisories' fields (ADVISORY_COLUMNS) by id, for a report."""
    wanted = sorted(set(ids))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 1000):
        rows = Advisory.objects.filter(id__in=wanted[start : start + 1000]).values_list(
            *ADVISORY_COLUMNS
        )
        for row in rows:
            found[row[0]] = dict(zip(ADVISORY_COLUMNS, row, strict=True))
    return found


def memory_index(records: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[Any]]:
    """The same lookup as candidates() over records held in memory (tests, tools)."""
    found: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for data in records:
        record = osv.parse_record(data)
        if record.withdrawn:
            continue
        fields = {
            "id": record.id,
            "summary": record.summary,
            "details": record.details,
            "aliases": record.aliases,
            "severity": record.severity,
            "cvss_vector": record.cvss_vector,
            "cvss_score": record.cvss_score,
            "cwe_ids": record.cwe_ids,
            "links": record.links,
        }
        for affected in record.affected:
            found[(affected.ecosystem, affected.name)].append((affected, fields))
    return found
