"""The GC job (vendor GARBAGE_COLLECTION): mark in set-based SQL, sweep in parallel.

Runs while pushes and pulls go on; gc/guard.py is the registry side of the protocol.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone

from harbor_gc.storage import FilesystemStorage
from harbor_py.api.errors import bad_request
from jobs.runner import JobContext, Stopped
from registry.manifests import SUPPORTED as MANIFEST_TYPES
from registry.models import ArtifactBlob, Blob

DIGEST_CHUNK = 1000
SWEEP_CHUNK = 500


def window_hours() -> float:
    return float(os.environ.get("GC_TIME_WINDOW_HOURS", "2"))


def upload_age_hours() -> float:
    return float(os.environ.get("GC_UPLOAD_AGE_HOURS", "24"))


def check_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    delete_untagged = raw.get("delete_untagged", False)
    dry_run = raw.get("dry_run", False)
    workers = raw.get("workers", 1)
    if not isinstance(delete_untagged, bool) or not isinstance(dry_run, bool):
        raise bad_request("delete_untagged and dry_run must be booleans")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 5:
        raise bad_request("workers must be an integer from 1 to 5")
    return {"delete_untagged": delete_untagged, "dry_run": dry_run, "workers": workers}


@dataclass
class Results:
    freed_bytes: int = 0
    blobs_deleted: int = 0
    manifests_deleted: int = 0
    artifacts_deleted: int = 0
    uploads_deleted: int = 0
    failed: list[str] = field(default_factory=list)

    def as_dict(self, dry_run: bool) -> dict[str, object]:
        return {
            "dry_run": dry_run,
            "freed_bytes": self.freed_bytes,
            "blobs_deleted": self.blobs_deleted,
            "manifests_deleted": self.manifests_deleted,
            "artifacts_deleted": self.artifacts_deleted,
            "uploads_deleted": self.uploads_deleted,
            "failed": len(self.failed),
        }


def _unreferenced() -> Any:
    return ~Exists(ArtifactBlob.objects.filter(blob_id=OuterRef("pk")))


def adopt_storage_only_blobs(
    storage: FilesystemStorage, cutoff: dt.datetime, *, dry_run: bool
) -> tuple[int, int]:
    """Blobs uploaded but never named by a pushed manifest exist only in storage. Give the
    ones older than `cutoff` rows dated at the cutoff, so that the mark can take them.
    Returns (count, bytes) of such blobs."""
    count = size = 0
    batch: list[Any] = []

    def flush() -> None:
        nonlocal count, size
        known = set(
            Blob.objects.filter(digest__in=[b.digest for b in batch]).values_list(
                "digest", flat=True
            )
        )
        new = [b for b in batch if b.digest not in known]
        count, size = count + len(new), size + sum(b.size for b in new)
        if new and not dry_run:
            Blob.objects.bulk_create(
                [Blob(digest=b.digest, size=b.size) for b in new], ignore_conflicts=True
            )
            # auto_now dated them now; version 0 skips any a client touched meanwhile.
            Blob.objects.filter(
                digest__in=[b.digest for b in new], version=0, status=Blob.Status.NONE
            ).update(update_time=cutoff - dt.timedelta(seconds=1))
        batch.clear()

    for stored in storage.blobs():
        if stored.modified < cutoff:
            batch.append(stored)
            if len(batch) >= DIGEST_CHUNK:
                flush()
    if batch:
        flush()
    return count, size


def mark(cutoff: dt.datetime, *, dry_run: bool) -> tuple[int, int]:
    """none/deletefailed -> delete for unreferenced blobs untouched since `cutoff`.
    Returns (count, bytes)."""
    candidates = Blob.objects.filter(
        _unreferenced(),
        status__in=[Blob.Status.NONE, Blob.Status.DELETE_FAILED],
        update_time__lt=cutoff,
    )
    if dry_run:
        totals = candidates.aggregate(total=Sum("size"))
        return candidates.count(), totals["total"] or 0
    count = candidates.update(status=Blob.Status.DELETE, version=F("version") + 1)
    return count, 0


def _sweep_one(
    row: dict[str, Any], storage: FilesystemStorage, links: dict[str, list[Any]]
) -> int | None:
    """CAS delete -> deleting, remove from storage, drop the row. None when the CAS lost."""
    won = Blob.objects.filter(
        _unreferenced(), pk=row["id"], status=Blob.Status.DELETE, version=row["version"]
    ).update(status=Blob.Status.DELETING, version=F("version") + 1)
    if not won:
        return None
    try:
        freed = storage.delete_blob(row["digest"], links.get(row["digest"], []))
    except OSError:
        Blob.objects.filter(pk=row["id"]).update(status=Blob.Status.DELETE_FAILED)
        raise
    Blob.objects.filter(pk=row["id"], status=Blob.Status.DELETING).delete()
    return freed


def sweep(context: JobContext, storage: FilesystemStorage, workers: int, results: Results) -> None:
    rows = list(
        Blob.objects.filter(status=Blob.Status.DELETE).values(
            "id", "digest", "version", "content_type"
        )
    )
    if not rows:
        return
    links = storage.link_index()

    def work(chunk: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int | None, str | None]]:
        done: list[tuple[dict[str, Any], int | None, str | None]] = []
        try:
            for row in chunk:
                try:
                    done.append((row, _sweep_one(row, storage, links), None))
                except OSError as exc:
                    done.append((row, None, str(exc)))
        finally:
            connection.close()  # this thread's own connection
        return done

    chunks = [rows[i : i + SWEEP_CHUNK] for i in range(0, len(rows), SWEEP_CHUNK)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(chunks), workers):
            if context.should_stop():
                raise Stopped
            for done in pool.map(work, chunks[start : start + workers]):
                for row, freed, error in done:
                    if error:
                        results.failed.append(row["digest"])
                        context.log(f"failed to delete {row['digest']}: {error}")
                    elif freed is not None:
                        results.blobs_deleted += 1
                        results.freed_bytes += freed
                        if row["content_type"] in MANIFEST_TYPES:
                            results.manifests_deleted += 1


def purge_uploads(storage: FilesystemStorage, *, dry_run: bool) -> int:
    cutoff = timezone.now() - dt.timedelta(hours=upload_age_hours())
    count = 0
    for upload in storage.uploads():
        if upload.started < cutoff:
            count += 1
            if not dry_run:
                storage.delete_upload(upload)
    return count


def collect(context: JobContext) -> dict[str, object]:
    parameters = check_parameters(context.parameters)
    dry_run = parameters["dry_run"]
    storage = FilesystemStorage(settings.RUNTIME.storage_dir)
    cutoff = timezone.now() - dt.timedelta(hours=window_hours())
    results = Results()
    context.log(f"GC started: window {window_hours()} h, parameters {parameters}")
    if parameters["delete_untagged"]:
        from harbor_gc.untagged import delete_untagged_artifacts

        results.artifacts_deleted = delete_untagged_artifacts(context, cutoff, dry_run=dry_run)
    orphans, orphan_bytes = adopt_storage_only_blobs(storage, cutoff, dry_run=dry_run)
    context.log(f"{orphans} blobs found only in storage")
    marked, marked_bytes = mark(cutoff, dry_run=dry_run)
    context.log(f"{marked} blobs marked for deletion")
    if dry_run:
        results.blobs_deleted = marked + orphans
        results.freed_bytes = marked_bytes + orphan_bytes
    else:
        sweep(context, storage, parameters["workers"], results)
    results.uploads_deleted = purge_uploads(storage, dry_run=dry_run)
    summary = results.as_dict(dry_run)
    context.log(f"GC finished: {summary}")
    return summary
