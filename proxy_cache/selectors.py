"""Reads for the surfaces: the endpoints a proxy cache may use, and their upstream health."""

from __future__ import annotations

from proxy_cache import upstreams
from replication.models import RegistryEndpoint


def endpoint_choices() -> list[tuple[int, str]]:
    """(id, "name (type, url)") of every registry endpoint, for a proxy cache to choose."""
    rows = RegistryEndpoint.objects.order_by("name").values_list("pk", "name", "type", "url")
    return [(pk, f"{name} ({kind}, {url})") for pk, name, kind, url in rows]


def upstream_health(endpoint_ids: list[int]) -> dict[int, dict[str, object]]:
    """What the proxy caches saw of each endpoint: healthy, failing or down (the breaker
    open), with the failures in a row and the last reason."""
    return {pk: upstreams.health(pk) for pk in endpoint_ids}
