"""Reads for the surfaces: the endpoints a proxy cache may use, and their upstream health."""

from __future__ import annotations

from jobs.models import Task
from proxy_cache import upstreams
from proxy_cache.services import VENDOR_TYPE
from registry.models import ArtifactBlob
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
    return (
        ArtifactBlob.objects.filter(artifact__repository__name=repository, blob__digest=digest)
        .values_list("blob__size", flat=True)
        .first()
    )
