"""Keeping `quota.used` exact: the size of the distinct blobs a project's artifacts
reference.

Every writer of references takes the project's quota row lock (`lock`) before it reads
or writes references, so writers of one project queue there and each statement after the
lock sees what the previous writer committed (READ COMMITTED takes a new snapshot per
statement):

- a push adds the sizes of the blobs it is about to reference that nothing in the project
  references yet (`charge`, one UPDATE ... RETURNING), refused when over the hard limit;
- a delete of artifacts subtracts the sizes of the blobs they referenced that nothing left
  in the project references (`released`: the same per-blob statement as `charge`, so its
  cost follows the deleted artifacts' blobs, not the project's size); a repository delete
  recomputes the sum from the references that remain (`recompute`, set-based).

Lock order: a push locks its blob rows (the GC guard's touch, in digest order), its
artifact row and then the quota row, so while it waits GC's mark skips its blobs; a delete
locks its artifact rows and then the quota row, and never a blob row; GC's mark and sweep
never take the quota row. No cycle (docs/deletes.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from harbor_py.core import configuration
from harbor_py.core.errors import Code, DomainError
from projects.models import Project
from quotas.models import Quota

# The blobs of a project: referenced by an artifact of one of its repositories.
_PROJECT_BLOBS = """
SELECT ab.blob_id FROM artifact_blob ab
JOIN artifact a ON a.id = ab.artifact_id
JOIN repository r ON r.id = a.repository_id
WHERE r.project_id = %s
"""
# Per blob, the references of that blob (artifact_blob.blob_id), each checked for the
# project by primary key: a push costs the same in a project of ten artifacts or a million.
# The project test is a scalar subquery on purpose, so that no plan can start from the
# project's repositories: written as a three-table join, PostgreSQL without statistics
# (a new database, or autovacuum off) read every reference of the project on every push.
# The ids and sizes come from the caller (the GC guard's touch returns them), so the blob
# table is not read again: a plan cached while it was small scanned it on every push.
_NEW_SIZE = """
WITH pushed (id, size) AS (VALUES {rows})
SELECT COALESCE(SUM(pushed.size), 0) FROM pushed
WHERE NOT EXISTS (
    SELECT 1 FROM artifact_blob ab
    WHERE ab.blob_id = pushed.id AND (
        SELECT r.project_id FROM artifact a JOIN repository r ON r.id = a.repository_id
        WHERE a.id = ab.artifact_id
    ) = %s
)
"""
_USED = f"SELECT COALESCE(SUM(b.size), 0) FROM blob b WHERE b.id IN ({_PROJECT_BLOBS})"


@dataclass(frozen=True)
class LockedQuota:
    id: int
    project_id: int
    hard: int
    used: int


class QuotaExceeded(DomainError):
    """Harbor's answer to a push over the limit: DENIED, with its sizes."""

    def __init__(self, *, adding: int, used: int, hard: int) -> None:
        self.adding, self.used, self.hard = adding, used, hard
        self.published = False  # whether its quota_exceeded event was (registry.push)
        super().__init__(
            Code.DENIED,
            "Quota exceeded when processing the request of adding "
            f"{format_bytes(adding)} of storage resource, which when updated to current "
            f"usage of {format_bytes(used)} will exceed the configured upper limit of "
            f"{format_bytes(hard)}.",
        )


def format_bytes(size: int) -> str:
    """Harbor's rendering of storage sizes (2.1 MiB)."""
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def _for_update() -> str:
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def ensure_quota(*, project: Project, hard: int) -> None:
    """The quota row of a new project (no audit: part of creating the project)."""
    Quota.objects.bulk_create([Quota(project=project, hard=hard)], ignore_conflicts=True)


def lock(project_id: int) -> LockedQuota:
    """The project's quota row, locked until the transaction ends; created (with the
    default limit and the usage recomputed) for a project that has none."""
    sql = "SELECT id, hard, used FROM quota WHERE project_id = %s" + _for_update()
    with connection.cursor() as cursor:
        cursor.execute(sql, [project_id])
        row = cursor.fetchone()
    if row is None:
        ensure_quota(project=Project(pk=project_id), hard=default_hard())
        with connection.cursor() as cursor:
            cursor.execute(sql, [project_id])
            row = cursor.fetchone()
        locked = LockedQuota(row[0], project_id, row[1], row[2])
        return LockedQuota(locked.id, project_id, locked.hard, recompute(locked))
    return LockedQuota(row[0], project_id, row[1], row[2])


def new_size_sql(count: int) -> str:
    """What `count` blobs, given as (id, stored size) parameters and then the project id,
    add to a project."""
    return _NEW_SIZE.format(rows=", ".join(["(%s, %s)"] * count))


def charge(quota: LockedQuota, sizes: dict[int, int]) -> int:
    """Add what these blobs (id -> stored size) add to the project (call before recording
    the references, holding `lock`). Raises QuotaExceeded, leaving usage as it was."""
    if not sizes:
        return quota.used
    sql = (
        f"UPDATE quota SET used = used + ({new_size_sql(len(sizes))}), update_time = %s "
        "WHERE id = %s RETURNING used"
    )
    pairs = [value for pair in sizes.items() for value in pair]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pairs, quota.project_id, timezone.now(), quota.id])
        used = cursor.fetchone()[0]
    if quota.hard >= 0 and used > quota.hard and used > quota.used and enforced():
        raise QuotaExceeded(adding=used - quota.used, used=quota.used, hard=quota.hard)
    return used


def enforced() -> bool:
    """Read only when a push would exceed: the hot path never asks the configuration."""
    return bool(configuration.get("quota_per_project_enable"))


def recompute(quota: LockedQuota) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE quota SET used = ({_USED}), update_time = %s WHERE id = %s RETURNING used",
            [quota.project_id, timezone.now(), quota.id],
        )
        return cursor.fetchone()[0]


@contextmanager
def recomputed(project_id: int) -> Iterator[None]:
    """Around a delete of references, in its transaction: lock first, recompute after."""
    quota = lock(project_id)
    yield
    recompute(quota)


@contextmanager
def released(project_id: int, artifact_ids: list[int]) -> Iterator[None]:
    """Around a delete of these artifacts' references, in its transaction (the caller
    holds their rows' locks, so their references cannot change): lock first, then, after
    the delete, subtract what their blobs no longer add to the project. Exact
    while `used` was (every writer of references holds the lock); the lock is held for a
    few statements about these blobs, where a recompute read every reference of the
    project (a retention run in a project of 20,000 artifacts held it for that long on
    every delete, docs/retention.md)."""
    # Read before the lock: the caller's row locks keep these references as they are.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT b.id, b.size FROM artifact_blob ab JOIN blob b ON b.id = ab.blob_id "
            f"WHERE ab.artifact_id IN ({', '.join(['%s'] * len(artifact_ids))})",
            artifact_ids,
        )
        sizes = list(cursor.fetchall())
    quota = lock(project_id)
    yield
    if not sizes:
        return
    sql = (
        f"UPDATE quota SET used = used - ({new_size_sql(len(sizes))}), update_time = %s "
        "WHERE id = %s"
    )
    with connection.cursor() as cursor:
        pairs = [value for pair in sizes for value in pair]
        cursor.execute(sql, [*pairs, project_id, timezone.now(), quota.id])


def measured(project_id: int) -> int:
    """The usage computed from the references, without touching the quota row."""
    with connection.cursor() as cursor:
        cursor.execute(_USED, [project_id])
        return cursor.fetchone()[0]


def default_hard() -> int:
    if not configuration.get("quota_per_project_enable"):
        return -1
    return configuration.get("storage_per_project")
