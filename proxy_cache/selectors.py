"""Reads for the surfaces: the endpoints a proxy cache may use, and their upstream health."""

from __future__ import annotations

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
