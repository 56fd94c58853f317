"""Keeping `quota.used` exact: the size of the distinct blobs a project's artifacts
reference.

Every computation of a change to `used` runs under the project's quota row lock (`lock`),
in a statement issued after the lock was granted: writers of one project queue there, and
each such statement sees what the previous holder committed (READ COMMITTED takes a new
snapshot per statement):

- a push adds the sizes of the blobs it is about to reference that nothing in the project
  references yet (`charge`, one UPDATE ... RETURNING), refused when over the hard limit,
  and records its references before it commits, still holding the lock;
- a delete of artifacts subtracts the sizes of the blobs they referenced that nothing left
  in the project references (`released`: the same per-blob statement as `charge`, so its
  cost follows the deleted artifacts' blobs, not the project's size); a repository delete
  recomputes the sum from the references that remain (`recompute`, set-based).

A delete removes its artifacts' references *before* it takes the lock (issue #25: the
row is then held for one UPDATE, the tag and artifact rows and the commit, not for the
whole delete), holding its artifacts' rows `FOR UPDATE` from the start. Why no push's
blob is lost or undercounted: call B a blob the deleted artifacts reference and a push
also references.

- The push charged B *before* the delete took the lock. Its `charge` ran under the lock
  and did not see the delete's uncommitted removals: it saw B still referenced by the
  doomed artifacts and added nothing, which was true of the committed state. The push
  committed its reference to B before it let the lock go; the delete's `released` runs
  after the lock was granted, so its statement sees that reference and subtracts nothing
  for B. `used` counts B once, and B is referenced once more.
- The push charged B *after* the delete committed: its statement sees the references gone,
  and the delete had subtracted B (nothing left referenced it): the push adds B. Exact.
- The push cannot add a reference to a doomed artifact, nor re-record one, meanwhile: it
  pins the artifact (`FOR KEY SHARE`) before the quota lock, which waits for the delete's
  `FOR UPDATE`; and the delete re-checks its artifacts on those locked rows before it
  deletes anything (#19, docs/deletes.md), so what it decided is what it deletes.
- Two deletes of artifacts sharing B: the first to take the lock sees the other's
  uncommitted removals as still there and keeps B; the second sees the first's commit
  and subtracts B. Exact.

What a push does while it holds the lock must never wait for a row such a delete has
removed but not committed, or the two would deadlock (the delete waits for the lock).
A push under the lock writes its own artifact's blob references, reads references, and,
when one transaction records a whole push (`registry.services.record_manifest_push`:
copies, replication into this instance), writes its tag: a tag of a doomed artifact that
the push moves. So a delete removes every row that references its artifacts before the
lock *except their tags*, and the tags and the artifact rows themselves after it
(registry.services.delete_artifacts); a push records its index references and build
history before it takes the lock (registry.push.reserve).

Lock order: a push locks its blob rows (the GC guard's touch, in digest order), its
artifact rows and then the quota row, so while it waits GC's mark skips its blobs; a delete
locks its artifact rows and then the quota row, and never a blob row; GC's mark and sweep
never take the quota row. No cycle (docs/deletes.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, models
from django.utils import timezone

from harbor_py.core import configuration
from harbor_py.core.db import IGNORE_CONFLICTS, insert, then_insert
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
    recomputed: bool = False  # the row was missing: `used` is from the references now


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
        return LockedQuota(locked.id, project_id, locked.hard, recompute(locked), True)
    return LockedQuota(row[0], project_id, row[1], row[2])


def new_size_sql(count: int) -> str:
    """What `count` blobs, given as (id, stored size) parameters and then the project id,
    add to a project."""
    return _NEW_SIZE.format(rows=", ".join(["(%s, %s)"] * count))


def charge(
    quota: LockedQuota, sizes: dict[int, int], references: Sequence[models.Model] = ()
) -> int:
    """Add what these blobs (id -> stored size) add to the project, holding `lock`, and
    then record `references`, the rows that make the project reference them, in the same
    statement: the charge does not see them (harbor_py.core.db.then_insert), as if it had
    run before. Raises QuotaExceeded; the caller's transaction then rolls back both."""
    if not sizes:
        insert(references, on_conflict=IGNORE_CONFLICTS)
        return quota.used
    sql = (
        f"UPDATE quota SET used = used + ({new_size_sql(len(sizes))}), update_time = %s "
        "WHERE id = %s RETURNING used"
    )
    pairs = [value for pair in sizes.items() for value in pair]
    params = [*pairs, quota.project_id, timezone.now(), quota.id]
    row = then_insert(sql, params, references, IGNORE_CONFLICTS)
    used: int = row[0] if row else quota.used
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


def referenced_blobs(artifact_ids: list[int]) -> list[tuple[int, int]]:
    """The blobs (id, size) these artifacts reference: read before their references are
    deleted, for `released`. The caller holds the artifacts' rows, so they stay as read."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT b.id, b.size FROM artifact_blob ab JOIN blob b ON b.id = ab.blob_id "
            f"WHERE ab.artifact_id IN ({', '.join(['%s'] * len(artifact_ids))})",
            artifact_ids,
        )
        return list(cursor.fetchall())


def released(project_id: int, blobs: list[tuple[int, int]]) -> None:
    """After a delete removed (uncommitted) the references of artifacts that referenced
    `blobs`: lock the quota row, then subtract what those blobs no longer add to the
    project, in a statement that sees every push committed before the lock was granted
    (the argument is in this module's notes). Exact while `used` was; the statement
    reads the references of these blobs only, where a recompute read every reference of
    the project (a retention run in a project of 20,000 artifacts held the row for that
    long on every delete, docs/retention.md). The lock is held until the commit."""
    quota = lock(project_id)
    if not blobs or quota.recomputed:  # a recompute after the delete already counts it
        return
    sql = (
        f"UPDATE quota SET used = used - ({new_size_sql(len(blobs))}), update_time = %s "
        "WHERE id = %s"
    )
    with connection.cursor() as cursor:
        pairs = [value for pair in blobs for value in pair]
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
