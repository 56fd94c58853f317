"""The upstream of a proxy-cache project: its registry endpoint, one adapter per endpoint
and process, the repository's name upstream (Docker Hub's `library/`), and the upstream's
health: a circuit breaker in Redis shared by every process, so that a dead upstream costs
its time-out once per cool-down, not on every pull."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
import redis

from harbor_py.core import redis_conn
from harbor_py.core.db import fetch_one
from harbor_py.core.errors import Code, DomainError, bad_request
from proxy_cache import fetch_route
from replication.adapters.base import RemoteAdapter, TransferError, adapter_type
from replication.models import RegistryEndpoint

logger = logging.getLogger(__name__)

DOCKER_HUB = "docker-hub"
# One upstream request may take this long to answer (a blob's bytes may take longer: the
# read time-out is between two chunks).
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
FAILURES_TO_OPEN = 2  # failures in a row that open the breaker
COOL_DOWN_SECONDS = 30  # how long an open breaker keeps the upstream out of pulls
_KEY = "harbor:proxy:health:{}"


@dataclass(frozen=True)
class Upstream:
    endpoint_id: int
    endpoint_name: str
    docker_hub: bool
    adapter: RemoteAdapter
    # where nginx fetches its blobs (proxy_cache/fetch_route.py), None: it cannot
    fetch_location: str | None = None

    def remote_name(self, local_name: str) -> str:
        """`<project>/<path>` here is `<path>` upstream; on Docker Hub a one-part path is an
        official image, `library/<path>` (as Harbor resolves it)."""
        path = local_name.split("/", 1)[1]
        if self.docker_hub and "/" not in path:
            return f"library/{path}"
        return path


def local_name(project_registry_id: int, name: str) -> str:
    """The repository a pull of `name` is stored in: on Docker Hub `<project>/nginx` and
    `<project>/library/nginx` are the same image, kept once as `<project>/library/nginx`
    (the name Harbor shows)."""
    project, _, path = name.partition("/")
    if "/" in path:
        return name
    kind = RegistryEndpoint.objects.filter(pk=project_registry_id).values_list("type", flat=True)
    return f"{project}/library/{path}" if kind.first() == DOCKER_HUB else name


_adapters: dict[int, tuple[datetime, RemoteAdapter]] = {}
_adapters_lock = threading.Lock()


def check_endpoint(registry_id: int) -> None:
    """The endpoint exists and speaks the distribution API (every adapter type does)."""
    endpoint = RegistryEndpoint.objects.filter(pk=registry_id).first()
    if endpoint is None:
        raise bad_request(f"registry {registry_id} not found", key="proxy.registry_gone")
    try:
        adapter_type(endpoint.type)
    except TransferError:
        raise bad_request(
            f"registry type {endpoint.type} cannot back a proxy cache",
            key="proxy.type_unsupported",
            params={"type": endpoint.type},
        ) from None


def of_project(project_registry_id: int) -> Upstream:
    endpoint = fetch_one(RegistryEndpoint, "id = %s", [project_registry_id])  # every miss
    if endpoint is None:
        raise DomainError(
            Code.NOT_FOUND, f"the registry {project_registry_id} is gone", key="proxy.registry_gone"
        )
    with _adapters_lock:
        cached = _adapters.get(endpoint.pk)
        if cached is None or cached[0] != endpoint.update_time:
            if cached is not None:
                cached[1].close()
            adapter = adapter_type(endpoint.type).open(endpoint, None)
            adapter.client.timeout = TIMEOUT
            if (known := _shared_auth(endpoint)) is not None and hasattr(adapter, "learn"):
                adapter.learn(known)
            cached = _adapters[endpoint.pk] = (endpoint.update_time, adapter)
    adapter = cached[1]
    return Upstream(
        endpoint.pk,
        endpoint.name,
        endpoint.type == DOCKER_HUB,
        adapter,
        fetch_location=fetch_route.location(
            adapter.client.base_url,
            insecure=endpoint.insecure,
            ca_certificate=endpoint.ca_certificate,
        ),
    )


_shared: dict[str, tuple[str, float]] = {}  # what share_auth wrote, until when it is fresh


def _auth_key(endpoint_id: int, updated: datetime) -> str:
    return f"harbor:proxy:auth:{endpoint_id}:{updated.timestamp()}"


def _shared_auth(endpoint: RegistryEndpoint) -> dict[str, object] | None:
    try:
        found = _redis().get(_auth_key(endpoint.pk, endpoint.update_time))
    except redis.RedisError:
        return None
    return json.loads(found) if found else None


def share_auth(source: Upstream) -> None:
    """What this process's adapter learnt of how the upstream authenticates, for the other
    web processes' (their first blob fetch handed to nginx then needs no HEAD first,
    proxy_cache/blobs.py): kept in Redis under the endpoint's version, for an hour."""
    state = getattr(source.adapter, "auth_state", lambda: None)()
    with _adapters_lock:
        cached = _adapters.get(source.endpoint_id)
    if state is None or cached is None or cached[1] is not source.adapter:
        return
    key, value = _auth_key(source.endpoint_id, cached[0]), json.dumps(state)
    now = time.monotonic()
    shared, fresh_until = _shared.get(key, ("", 0.0))
    if shared == value and fresh_until > now:
        return  # this process said so less than half an hour ago: no write per pull
    with contextlib.suppress(redis.RedisError):
        # a realm or Basic is what a challenge said; "open" never replaces them
        _redis().set(key, value, ex=3600, nx="open" in state)
        if len(_shared) > 1000:
            _shared.clear()
        _shared[key] = (value, now + 1800)


def forget_adapters() -> None:
    with _adapters_lock:
        for _, adapter in _adapters.values():
            adapter.close()
        _adapters.clear()


# -- health -------------------------------------------------------------------------------
def _redis() -> redis.Redis:
    return redis_conn.client(timeout=2.0)


def is_open(endpoint_id: int) -> bool:
    """True while the breaker keeps the upstream out of pulls."""
    try:
        until = _redis().hget(_KEY.format(endpoint_id), "open_until")
    except redis.RedisError:
        return False
    return until is not None and float(until) > time.time()


def failed(endpoint_id: int, reason: str) -> None:
    key = _KEY.format(endpoint_id)
    try:
        client = _redis()
        with client.pipeline() as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.hset(key, mapping={"reason": reason[:300], "since": time.time()})
            pipe.expire(key, 24 * 3600)
            failures = pipe.execute()[0]
        if failures >= FAILURES_TO_OPEN:
            client.hset(key, "open_until", time.time() + COOL_DOWN_SECONDS)
    except redis.RedisError:
        return
    logger.warning("proxy cache: upstream registry %s failed: %s", endpoint_id, reason)
    if failures == FAILURES_TO_OPEN:
        RegistryEndpoint.objects.filter(pk=endpoint_id).update(status="unhealthy")


def succeeded(endpoint_id: int) -> None:
    try:
        dropped = _redis().delete(_KEY.format(endpoint_id))
    except redis.RedisError:
        return
    if dropped:
        RegistryEndpoint.objects.filter(pk=endpoint_id).exclude(status="healthy").update(
            status="healthy"
        )


def health(endpoint_id: int) -> dict[str, object]:
    """What the registries page shows: healthy, or the failures and the last reason."""
    try:
        found = _redis().hgetall(_KEY.format(endpoint_id))
    except redis.RedisError:
        return {"state": "unknown"}
    if not found:
        return {"state": "healthy"}
    values = {_text(k): _text(v) for k, v in found.items()}
    state = "down" if float(values.get("open_until", 0)) > time.time() else "failing"
    return {
        "state": state,
        "failures": int(values.get("failures", 0)),
        "reason": values.get("reason", ""),
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def unavailable(error: TransferError) -> bool:
    """A refusal that a cached copy answers instead: no answer, a time-out, 401, 403, 429
    or a 5xx (an upstream 404 is an answer: the tag is gone)."""
    return error.status in (0, 401, 403, 429) or error.status >= 500
