"""Reads for the surfaces: the endpoints a proxy cache may use, and their upstream health."""

from __future__ import annotations

from django.db import connection

from jobs.models import Task
from proxy_cache import upstreams
from proxy_cache.services import VENDOR_TYPE
from replication.models import RegistryEndpoint


def endpoint_choices() -> list[tuple[int, str]]:
    """(id, "name (type, url)") of every registry endpoint, for a proxy cache to choose."""
    rows = RegistryEndpoint.objects.order_by("name").values_list("pk", "name", "type", "url")
    return [(pk, f"{name} ({kind}, {url})") for pk, name, kind, url in rows]


def upstream_health(endpoint_ids: list[int]) -> dict[int, dict[str, object]]:
    """What the proxy caches saw of each endpoint: healthy, failing or down (the breaker
    open), with the failures in a row and the last reason."""
    return {pk: upstreams.health(pk) for pk in endpoint_ids}


def job_logs(project_id: int, limit: int = 7) -> list[dict[str, object]]:
    """The project's proxy-cache job logs, newest day first: task id, day and log."""
    rows = (
        Task.objects.filter(execution__vendor_type=VENDOR_TYPE, execution__vendor_id=project_id)
        .order_by("-execution__start_time")
        .values("pk", "execution__parameters", "log")[:limit]
    )
    return [
        {"task_id": r["pk"], "day": r["execution__parameters"].get("day", ""), "log": r["log"]}
        for r in rows
    ]


def listed_blob_size(repository: str, digest: str) -> int | None:
    """The size of `digest` as a manifest recorded in `repository` lists it (a cold pull
    asks for the blobs of the manifest it was just served); None when none lists it."""
    # on every blob miss: a plain SELECT, no ORM query to compile (harbor_py.core.db)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.size FROM artifact_blob ab JOIN artifact a ON a.id = ab.artifact_id"
            " JOIN repository r ON r.id = a.repository_id JOIN blob b ON b.id = ab.blob_id"
            " WHERE r.name = %s AND b.digest = %s LIMIT 1",
            [repository, digest],
        )
        row = cursor.fetchone()
    return int(row[0]) if row is not None else None
