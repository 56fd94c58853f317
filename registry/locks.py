"""The row locks that order deletes against pushes (ARCHITECTURE.md §9, docs/deletes.md).

A deleter locks the artifact rows it is about to remove `FOR UPDATE`, re-checks why it
wanted to remove them, deletes the manifests from distribution and then the rows, all in
one transaction. A push takes `FOR KEY SHARE` on the artifact it reuses (reserve) and again
before it points a tag at it (complete): the two conflict, so a push either finishes its
tag before the deleter looks, or finds the row gone and records the push again.

`FOR KEY SHARE` rather than `FOR SHARE`: it does not wait for the pull-time aggregation's
UPDATEs of the same rows. On SQLite every write transaction begins IMMEDIATE, so it holds
the database's write lock from its first statement: the same exclusion without row locks.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def key_share() -> str:
    """The suffix of a SELECT that pins rows a push relies on (empty on SQLite)."""
    return " FOR KEY SHARE" if _postgres() else ""


def for_delete(artifact_ids: Iterable[int]) -> set[int]:
    """Lock these artifacts for deletion, in id order (deleters never deadlock each other
    on the same rows); the ids that still exist."""
    ids = sorted(set(artifact_ids))
    if not ids:
        return set()
    placeholders = ", ".join(["%s"] * len(ids))
    lock = " FOR UPDATE" if _postgres() else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM artifact WHERE id IN ({placeholders}) ORDER BY id{lock}", ids
        )
        return {pk for (pk,) in cursor.fetchall()}


def pin(artifact_id: int) -> bool:
    """A push's hold on the artifact it is about to tag or reference: False when a deleter
    removed it meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM artifact WHERE id = %s{key_share()}", [artifact_id])
        return cursor.fetchone() is not None


def pin_subject(repository_id: int, digest: str) -> None:
    """An accessory's push holds its subject, when the subject is there: a deleter of the
    subject (which locks it first) then either waits for the push and takes the new
    accessory with the subject, or has deleted the subject before the push records the
    accessory (which then waits for a subject of that digest to be pushed again)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM artifact WHERE repository_id = %s AND digest = %s{key_share()}",
            [repository_id, digest],
        )


def repository_for_delete(repository_id: int) -> bool:
    """Lock a repository row for deletion, before its artifacts: a push pins the row first
    (registry.push), so it waits for the delete and then creates the repository anew.
    Whether the row still exists."""
    lock = " FOR UPDATE" if _postgres() else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM repository WHERE id = %s{lock}", [repository_id])
        return cursor.fetchone() is not None
