"""The GC job (vendor GARBAGE_COLLECTION): mark in set-based SQL, sweep in parallel.

Runs while pushes and pulls go on; harbor_gc/guard.py is the registry side of the protocol.

On PostgreSQL, mark and the sweep's compare-and-set take their row locks with SKIP LOCKED:
a row locked at that moment is being touched by a push (guard.touch), so it is in use and
is left alone. It also keeps the sweep from deadlocking with a push that touches several of
the same blobs (pushes lock in digest order, a bulk UPDATE in whatever order it scans). The
statements that must wait for their rows lock them in digest order, as pushes do.

A run that dies between its compare-and-set and the row's removal (worker killed, database
error) leaves rows in `deleting`. Clients are refused such a blob, and nothing else moves it
on, so the next run (only one runs at a time) finishes them: without that, a layer uploaded
again after the crash would stay in storage, and its pushes refused, for ever.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from harbor_gc.storage import Storage, StoredBlob, storage_from_settings
from harbor_py.core import env
from harbor_py.core.errors import bad_request
from jobs.context import JobContext, Stopped
from registry.manifests import SUPPORTED as MANIFEST_TYPES

DIGEST_CHUNK = 1000
MARK_CHUNK = 20_000  # ids per mark statement
SWEEP_CHUNK = 1000  # rows one worker takes at a time
CAS_BATCH = 100  # rows moved to `deleting` together, then deleted from storage
_MANIFEST_TYPES = sorted(MANIFEST_TYPES)
_UNREFERENCED = "NOT EXISTS (SELECT 1 FROM artifact_blob ab WHERE ab.blob_id = blob.id)"


def window_hours() -> float:
    return float(env.get("GC_TIME_WINDOW_HOURS", "2"))


def upload_age_hours() -> float:
    return float(env.get("GC_UPLOAD_AGE_HOURS", "24"))


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
            # Harbor's names, shown in the GC history's job_parameters.
            "freed_space": self.freed_bytes,
            "purged_blobs": self.blobs_deleted,
            "purged_manifests": self.manifests_deleted,
        }


def _readable(values: dict[str, Any]) -> str:
    """ "key: value" pairs for the job log (people read it), not a Python dict."""
    pairs = (f"{key.replace('_', ' ')}: {str(value).lower()}" for key, value in values.items())
    return ", ".join(pairs)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _lock_clause() -> str:
    return "FOR UPDATE SKIP LOCKED" if _postgres() else ""


def adopt_storage_only_blobs(
    storage: Storage, cutoff: dt.datetime, *, dry_run: bool
) -> tuple[int, int]:
    """Blobs uploaded but never named by a pushed manifest exist only in storage. Give the
    ones older than `cutoff` rows dated just before it, so that the mark can take them.
    Returns (count, bytes) of such blobs."""
    count = size = 0
    batch: list[StoredBlob] = []

    def flush() -> None:
        nonlocal count, size
        digests = sorted({b.digest for b in batch})
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(digests))
            cursor.execute(f"SELECT digest FROM blob WHERE digest IN ({placeholders})", digests)
            known = {row[0] for row in cursor.fetchall()}
        new = sorted((b for b in batch if b.digest not in known), key=lambda b: b.digest)
        batch.clear()
        if not new:
            return
        if dry_run:
            count, size = count + len(new), size + sum(b.size for b in new)
            return
        # Explicit dates and DO NOTHING: a row a client created meanwhile (guard.touch) keeps
        # its own fresh update_time and is not taken.
        dated = cutoff - dt.timedelta(seconds=1)
        params: list[Any] = []
        for blob in new:
            params += [blob.digest, blob.size, dated, dated]
        values = ", ".join(["(%s, '', %s, 'none', 0, %s, %s)"] * len(new))
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO blob (digest, content_type, size, status, version, creation_time,"
                f" update_time) VALUES {values} ON CONFLICT (digest) DO NOTHING RETURNING digest",
                params,
            )
            inserted = {row[0] for row in cursor.fetchall()}
        count += len(inserted)
        size += sum(b.size for b in new if b.digest in inserted)

    for stored in storage.blobs():
        if stored.modified < cutoff:
            batch.append(stored)
            if len(batch) >= DIGEST_CHUNK:
                flush()
    if batch:
        flush()
    return count, size


def mark(
    cutoff: dt.datetime, *, dry_run: bool, going: frozenset[int] = frozenset()
) -> tuple[int, int, int]:
    """none/deletefailed -> delete for unreferenced blobs untouched since `cutoff`, one
    set-based statement per range of ids. Returns (count, bytes, manifests); a dry run
    counts what a real run would sweep (blobs left in `delete` by a stopped run included),
    references from the artifacts `going` (untagged ones a real run would delete first) not
    counting."""
    manifest_in = ", ".join(["%s"] * len(_MANIFEST_TYPES))
    with connection.cursor() as cursor:
        if dry_run:
            unreferenced, extra = _UNREFERENCED, []
            if going:
                ids = ", ".join(["%s"] * len(going))
                unreferenced = unreferenced.replace(
                    "ab.blob_id = blob.id",
                    f"ab.blob_id = blob.id AND ab.artifact_id NOT IN ({ids})",
                )
                extra = sorted(going)
            cursor.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0),"
                f" COUNT(*) FILTER (WHERE content_type IN ({manifest_in}))"
                " FROM blob WHERE ((status IN ('none', 'deletefailed') AND update_time < %s)"
                f" OR status IN ('delete', 'deleting')) AND {unreferenced}",
                [*_MANIFEST_TYPES, cutoff, *extra],
            )
            count, size, manifests = cursor.fetchone()
            return int(count), int(size), int(manifests)
        cursor.execute("SELECT MIN(id), MAX(id) FROM blob")
        low, high = cursor.fetchone()
    marked = 0
    if low is None:
        return 0, 0, 0
    # One statement per range of ids, each its own transaction: a push touching a candidate
    # waits for one range's locks at most, never for a whole million-row mark.
    for start in range(low, high + 1, MARK_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE blob SET status = 'delete', version = version + 1 WHERE id IN ("
                " SELECT id FROM blob WHERE id >= %s AND id < %s"
                " AND status IN ('none', 'deletefailed') AND update_time < %s"
                f" AND {_UNREFERENCED} {_lock_clause()})",
                [start, start + MARK_CHUNK, cutoff],
            )
            marked += cursor.rowcount
    return marked, 0, 0


def _claim(rows: list[dict[str, Any]]) -> set[int]:
    """CAS delete -> deleting for rows still at the version the sweep read and still
    unreferenced; returns the ids won. A client touch in between bumps the version. Rows an
    interrupted run left in `deleting` are taken over the same way."""
    pairs = ", ".join(["(%s, %s)"] * len(rows))
    params: list[Any] = []
    for row in rows:
        params += [row["id"], row["version"]]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE blob SET status = 'deleting', version = version + 1 WHERE id IN ("
            " SELECT id FROM blob WHERE status IN ('delete', 'deleting')"
            f" AND (id, version) IN (VALUES {pairs})"
            f" AND {_UNREFERENCED} {_lock_clause()}) RETURNING id",
            params,
        )
        return {pk for (pk,) in cursor.fetchall()}


def _in_digest_order(ids: list[int]) -> str:
    """Rows of `ids` still `deleting`, locked in digest order: a push's guard.touch may hold
    some of them (ON CONFLICT locks a row even when its WHERE refuses the update) while it
    waits for others, and locking in its order is what keeps the two from deadlocking."""
    placeholders = ", ".join(["%s"] * len(ids))
    lock = "FOR UPDATE" if _postgres() else ""
    return (
        f"SELECT id FROM blob WHERE id IN ({placeholders}) AND status = 'deleting'"
        f" ORDER BY digest {lock}"
    )


def _finish(deleted: list[int], failed: list[int]) -> None:
    with connection.cursor() as cursor:
        if deleted:
            cursor.execute(f"DELETE FROM blob WHERE id IN ({_in_digest_order(deleted)})", deleted)
        if failed:
            cursor.execute(
                f"UPDATE blob SET status = 'deletefailed' WHERE id IN ({_in_digest_order(failed)})",
                failed,
            )


Outcome = tuple[dict[str, Any], int | None, str | None]  # row, bytes freed (None: lost), error


def _sweep_batch(
    rows: list[dict[str, Any]], storage: Storage, links: dict[str, list[str]]
) -> list[Outcome]:
    """Claim a batch, delete the won blobs from storage, then drop their rows. While a
    blob is `deleting`, touches refuse it, so no push can start relying on it."""
    won = _claim(rows)
    outcomes: list[Outcome] = []
    deleted: list[int] = []
    failed: list[int] = []
    for row in rows:
        if row["id"] not in won:
            outcomes.append((row, None, None))
            continue
        try:
            freed = storage.delete_blob(row["digest"], links.get(row["digest"], []))
        except OSError as exc:
            failed.append(row["id"])
            outcomes.append((row, None, str(exc)))
        else:
            deleted.append(row["id"])
            outcomes.append((row, freed, None))
    _finish(deleted, failed)
    return outcomes


def _sweep_one(row: dict[str, Any], storage: Storage, links: dict[str, list[str]]) -> int | None:
    """One row through the sweep: bytes freed, None when the CAS lost."""
    (_, freed, error) = _sweep_batch([row], storage, links)[0]
    if error:
        raise OSError(error)
    return freed


# The progress bar's share of each step: deleting untagged artifacts and marking are single
# queries (their ends are reported), the sweep reports after every round of chunks.
SWEEP_FROM, SWEEP_TO = 40, 95


def sweep(context: JobContext, storage: Storage, workers: int, results: Results) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, digest, version, content_type, status FROM blob"
            " WHERE status IN ('delete', 'deleting') ORDER BY digest"
        )
        fetched = cursor.fetchall()
    rows = [
        {"id": pk, "digest": digest, "version": version, "content_type": content_type}
        for pk, digest, version, content_type, _ in fetched
    ]
    if leftovers := sum(1 for *_, status in fetched if status == "deleting"):
        context.log(
            f"{leftovers} blobs left mid-deletion by an earlier run are finished now",
            event="gc.leftovers",
            count=leftovers,
        )
    if not rows:
        return
    links = storage.link_index()

    def work(chunk: list[dict[str, Any]]) -> list[Outcome]:
        done: list[Outcome] = []
        try:
            for start in range(0, len(chunk), CAS_BATCH):
                done += _sweep_batch(chunk[start : start + CAS_BATCH], storage, links)
        finally:
            connection.close()  # this thread's own connection
        return done

    chunks = [rows[i : i + SWEEP_CHUNK] for i in range(0, len(rows), SWEEP_CHUNK)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(chunks), workers):
            context.progress(SWEEP_FROM + (SWEEP_TO - SWEEP_FROM) * start // len(chunks))
            if context.should_stop():
                raise Stopped
            for done in pool.map(work, chunks[start : start + workers]):
                for row, freed, error in done:
                    if error:
                        results.failed.append(row["digest"])
                        context.log(
                            f"failed to delete {row['digest']}: {error}",
                            event="gc.delete_failed",
                            digest=row["digest"],
                            why=str(error),
                        )
                    elif freed is not None:
                        results.blobs_deleted += 1
                        results.freed_bytes += freed
                        if row["content_type"] in MANIFEST_TYPES:
                            results.manifests_deleted += 1


def purge_uploads(storage: Storage, *, dry_run: bool) -> int:
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
    storage = storage_from_settings()
    cutoff = timezone.now() - dt.timedelta(hours=window_hours())
    results = Results()
    going: set[int] = set()
    context.log(
        f"GC started: window {window_hours()} h, {_readable(parameters)}",
        event="gc.started",
        hours=window_hours(),
        values=parameters,
    )
    if parameters["delete_untagged"]:
        from harbor_gc.untagged import delete_untagged_artifacts

        results.artifacts_deleted, going = delete_untagged_artifacts(
            context, cutoff, dry_run=dry_run
        )
    context.progress(10)
    orphans, orphan_bytes = adopt_storage_only_blobs(storage, cutoff, dry_run=dry_run)
    context.progress(25)
    context.log(f"{orphans} blobs found only in storage", event="gc.storage_only", count=orphans)
    marked, marked_bytes, marked_manifests = mark(cutoff, dry_run=dry_run, going=frozenset(going))
    context.progress(SWEEP_FROM)
    if dry_run:
        results.blobs_deleted = marked + orphans
        results.freed_bytes = marked_bytes + orphan_bytes
        results.manifests_deleted = marked_manifests
        context.log(
            f"dry run: {results.blobs_deleted} blobs and {results.manifests_deleted} manifests"
            f" eligible for deletion, {results.freed_bytes} bytes would be freed",
            event="gc.dry_run",
            blobs=results.blobs_deleted,
            manifests=results.manifests_deleted,
            bytes=results.freed_bytes,
        )
    else:
        context.log(f"{marked} blobs marked for deletion", event="gc.marked", count=marked)
        sweep(context, storage, parameters["workers"], results)
        context.log(
            f"{results.blobs_deleted} blobs and {results.manifests_deleted} manifests"
            f" are actually deleted, {results.freed_bytes} bytes freed"
            f" ({results.freed_bytes / 1024 / 1024:.1f} MB)",
            event="gc.deleted",
            blobs=results.blobs_deleted,
            manifests=results.manifests_deleted,
            bytes=results.freed_bytes,
        )
    context.progress(SWEEP_TO)
    results.uploads_deleted = purge_uploads(storage, dry_run=dry_run)
    context.progress(100)
    summary = results.as_dict(dry_run)
    context.log(f"GC finished: {_readable(summary)}", event="gc.finished", values=summary)
    return summary
