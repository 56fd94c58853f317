"""One scan: pull the manifest, analyse each layer (or take it from the per-layer cache),
compose the container's file system, list its packages, match them against the OSV
database; and the reports the adapter answers from the stored result."""

from __future__ import annotations

import contextlib
import logging
import tarfile
import zlib
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone

from scanner import inventory, layers, matching, osv, pull, sbom, vulndb
from scanner.models import LayerFindings, LayerInventory, ScanJob

log = logging.getLogger(__name__)

NAME = "harbor-py"
VENDOR = "harbor-py"
VERSION = "1.0.0"
# Bump when what a layer analysis holds changes: cached layers of another version are
# analysed again.
ANALYZER = "2"  # 2: RPM databases, Go binaries before 1.18
SCANNER = {"name": NAME, "vendor": VENDOR, "version": VERSION}


def layer_content(registry: pull.Registry, digest: str) -> tuple[dict[str, Any], bool]:
    """(the layer's analysis, whether it came from the cache)."""
    cached = LayerInventory.objects.filter(digest=digest, analyzer=ANALYZER).first()
    if cached is not None:
        return cached.content, True
    with registry.blob(digest) as file:
        try:
            content = layers.analyze_layer(file)
        except (tarfile.TarError, zlib.error, EOFError, OSError) as exc:
            raise pull.PullError(f"layer {digest} is not a readable tar: {exc}") from exc
    # another scan of an image sharing the layer may store it first: the same content
    with contextlib.suppress(IntegrityError), transaction.atomic():
        LayerInventory.objects.create(digest=digest, analyzer=ANALYZER, content=content)
    return content, False


def layer_findings(
    digest: str,
    files: dict[str, Any],
    os_release: dict[str, str],
    generation: int,
) -> tuple[dict[str, Any], bool]:
    """(a layer's packages and findings in this image context, whether cached)."""
    context = f"{os_release.get('ID', '')}:{os_release.get('VERSION_ID', '')}"[:255]
    key = {"digest": digest, "analyzer": ANALYZER, "context": context, "generation": generation}
    cached = LayerFindings.objects.filter(**key).first()
    if cached is not None:
        return cached.content, True
    packages = inventory.packages(files, os_release)
    index = vulndb.candidates({(p["ecosystem"], p["key"]) for p in packages})
    content = {"packages": packages, "findings": matching.find(packages, index)}
    with contextlib.suppress(IntegrityError), transaction.atomic():
        LayerFindings.objects.create(**key, content=content)
    return content, False


def scan(request: dict[str, Any], authorization: str | None = None) -> dict[str, Any]:
    """The stored result of a scan request: packages, findings and counts. The registry
    credentials are `authorization`, else the request's own.

    Each layer is analysed once (LayerInventory) and its packages matched once per image
    context and database generation (LayerFindings); the scan composes the layers and
    keeps, of each layer, what the layers above did not delete or replace."""
    registry_info = request.get("registry") or {}
    artifact = request.get("artifact") or {}
    if authorization is None:
        authorization = str(registry_info.get("authorization") or "")
    registry = pull.Registry(
        str(registry_info.get("url", "")), authorization, str(artifact.get("repository", ""))
    )
    try:
        manifest, media_type = registry.manifest(str(artifact.get("digest", "")))
        if media_type not in pull.MANIFEST_TYPES or "layers" not in manifest:
            raise pull.PullError(f"not an image manifest ({media_type or 'no media type'})")
        digests = [str(descriptor.get("digest", "")) for descriptor in manifest["layers"]]
        analyses = []
        cached = 0
        for digest in digests:
            content, hit = layer_content(registry, digest)
            analyses.append(content)
            cached += hit
    finally:
        registry.close()
    provider = layers.sources(analyses)
    files = {path: analyses[number]["files"][path] for path, number in provider.items()}
    os_release = inventory.operating_system(files)
    generation = vulndb.generation()
    packages: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    matched = 0
    for number, digest in enumerate(digests):
        kept = {path for path, source in provider.items() if source == number}
        if not any(files[path] and files[path].get("packages") for path in kept):
            continue
        # matched over all the layer's files (the cache is the layer's, whatever is above)
        layer_files = {p: a for p, a in analyses[number]["files"].items() if a is not None}
        derived, hit = layer_findings(digest, layer_files, os_release, generation)
        matched += not hit
        packages.extend(p for p in derived["packages"] if p["path"] in kept)
        findings.extend(f for f in derived["findings"] if f["path"] in kept)
    return {
        "os": os_release,
        "packages": packages,
        "findings": matching.ordered(findings),
        "layers": len(analyses),
        "cached_layers": cached,
        "matched_layers": matched,
    }


def run_job(job_id: str, authorization: str = "") -> None:
    """The worker's side of POST /scan (scanner.adapter submits it, with the registry
    credentials of the request, which the job's row does not keep)."""
    close_old_connections()
    try:
        job = ScanJob.objects.get(pk=job_id)
        job.status = ScanJob.RUNNING
        job.save(update_fields=["status"])
        try:
            job.result = scan(job.request, authorization)
            job.status = ScanJob.DONE
        except (pull.PullError, ValueError, KeyError, TypeError) as exc:
            job.status, job.message = ScanJob.ERROR, str(exc)[:2000]
        except Exception as exc:  # the job must end in a status, whatever failed
            log.exception("scan %s failed", job_id)
            job.status, job.message = ScanJob.ERROR, f"{type(exc).__name__}: {exc}"[:2000]
        job.finished = timezone.now()
        job.save(update_fields=["status", "message", "result", "finished"])
    finally:
        connection.close()


# -- reports ---------------------------------------------------------------------------------


def _generated_at(job: ScanJob) -> str:
    when = job.finished or datetime.now(UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _artifact(job: ScanJob) -> dict[str, Any]:
    artifact = job.request.get("artifact") or {}
    keys = ("repository", "digest", "tag", "mime_type")
    return {k: artifact[k] for k in keys if isinstance(artifact.get(k), str)}


def _item(
    finding: dict[str, Any], package: dict[str, Any], advisory: dict[str, Any]
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": finding["id"],
        "package": finding["name"],
        "version": finding["version"],
        "fix_version": finding["fix_version"],
        "severity": finding["severity"],
        "description": advisory.get("details") or advisory.get("summary") or "",
        "links": advisory.get("links") or [],
        "cwe_ids": advisory.get("cwe_ids") or [],
        "vendor_attributes": {
            "aliases": advisory.get("aliases") or [],
            "ecosystem": package.get("ecosystem", ""),
            "purl": package.get("purl", ""),
            "path": finding["path"],
        },
    }
    if advisory.get("cvss_vector"):
        cvss: dict[str, Any] = {"vector_v3": advisory["cvss_vector"]}
        if advisory.get("cvss_score") is not None:
            cvss["score_v3"] = advisory["cvss_score"]
        item["preferred_cvss"] = cvss
    return item


def vulnerability_report(job: ScanJob) -> dict[str, Any]:
    """The report of a finished job; the advisories' text as the database has it now."""
    result = job.result or {}
    findings = result.get("findings", [])
    packages = {(p["path"], p["name"], p["version"]): p for p in result.get("packages", [])}
    texts = vulndb.advisories(f["id"] for f in findings)
    items = [
        _item(f, packages.get((f["path"], f["name"], f["version"]), {}), texts.get(f["id"], {}))
        for f in findings
    ]
    return {
        "generated_at": _generated_at(job),
        "artifact": _artifact(job),
        "scanner": SCANNER,
        "severity": osv.worst(item["severity"] for item in items),
        "vulnerabilities": items,
    }


def sbom_report(job: ScanJob, media_type: str) -> dict[str, Any]:
    result = job.result or {}
    artifact = _artifact(job)
    packages = result.get("packages", [])
    if media_type == sbom.CYCLONEDX:
        document = sbom.cyclonedx(artifact, packages)
    else:
        document = sbom.spdx(artifact, packages, job.finished or timezone.now())
    return {
        "generated_at": _generated_at(job),
        "artifact": artifact,
        "scanner": SCANNER,
        "vendor_attributes": {"packages": len(packages), "created-by": sbom.TOOL},
        "media_type": media_type,
        "sbom": document,
    }
