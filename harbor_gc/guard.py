"""The registry side of the GC protocol (ARCHITECTURE.md §4).

Blob status moves none -> delete -> deleting -> (row removed | deletefailed), each step a
compare-and-set on `version`. Whatever a client touches is pulled back from `delete` to
`none` with a new version, so a sweeper holding the old version loses its CAS; a blob
already `deleting` is reported, and the client must upload it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from registry.models import Blob

# One statement for insert-or-touch, portable across PostgreSQL and SQLite (>= 3.35):
# rows come back for every digest except those being deleted. VALUES are sorted by digest so
# concurrent pushes sharing layers lock rows in the same order and cannot deadlock.
_TOUCH_SQL = """
INSERT INTO blob (digest, content_type, size, status, version, creation_time, update_time)
VALUES {values}
ON CONFLICT (digest) DO UPDATE SET
    status = 'none',
    version = blob.version + 1,
    update_time = excluded.update_time,
    size = CASE WHEN blob.size = 0 THEN excluded.size ELSE blob.size END,
    content_type = CASE WHEN blob.content_type = '' THEN excluded.content_type
                        ELSE blob.content_type END
WHERE blob.status <> 'deleting'
RETURNING id, digest, size
"""


class TouchedBlob(NamedTuple):
    id: int
    size: int  # as stored: the size the first manifest naming it declared


def touch(
    digests: Iterable[str],
    *,
    sizes: dict[str, int] | None = None,
    media_types: dict[str, str] | None = None,
) -> tuple[dict[str, TouchedBlob], set[str]]:
    """Mark these blobs in use now, creating rows as needed. Returns (the rows by digest,
    the digests being deleted). Call in the transaction that records the references."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}, set()
    sizes, media_types = sizes or {}, media_types or {}
    now = timezone.now()
    params: list[Any] = []
    for digest in wanted:
        params += [digest, media_types.get(digest, ""), sizes.get(digest, 0), now, now]
    values = ", ".join(["(%s, %s, %s, 'none', 0, %s, %s)"] * len(wanted))
    with connection.cursor() as cursor:
        cursor.execute(_TOUCH_SQL.format(values=values), params)
        rows = {digest: TouchedBlob(pk, size) for pk, digest, size in cursor.fetchall()}
    return rows, set(wanted) - set(rows)


def touch_one(digest: str) -> bool:
    """HEAD: False when the blob is being deleted (answer 404: upload it again)."""
    _, deleting = touch([digest])
    return not deleting


def status_of(digest: str) -> str | None:
    return Blob.objects.filter(digest=digest).values_list("status", flat=True).first()
