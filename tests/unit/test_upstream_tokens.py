"""The docker-registry adapter's bearer tokens (issue #24): kept per scope until shortly
before they expire, then renewed without a 401 round trip, so that a request it
authorizes elsewhere (the proxy cache's fetch handed to nginx) never starts with a stale
one. The registry and its token service are an httpx MockTransport (a unit test of the
adapter's own bookkeeping)."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from replication.adapters import docker_registry
from replication.adapters.base import grants
from replication.adapters.docker_registry import DockerRegistryAdapter

CHALLENGE = 'Bearer realm="http://registry.test/token",service="registry.test"'


def _adapter(expires_in: int | None) -> tuple[DockerRegistryAdapter, list[str]]:
    issued: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            issued.append(f"t{len(issued)}")
            body: dict[str, object] = {"token": issued[-1]}
            if expires_in is not None:
                body["expires_in"] = expires_in
            return httpx.Response(200, json=body)
        if request.headers.get("Authorization") != f"Bearer {issued[-1] if issued else ''}":
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        return httpx.Response(200, headers={"Content-Length": "3"})

    endpoint = SimpleNamespace(
        url="http://registry.test", insecure=False, access_key="", access_secret=""
    )
    return DockerRegistryAdapter(endpoint, httpx.MockTransport(answer)), issued


@pytest.mark.parametrize(("expires_in", "renewed_after"), [(300, 281), (None, 41)])
def test_a_token_is_renewed_before_it_expires(monkeypatch, expires_in, renewed_after):
    now = [1000.0]
    monkeypatch.setattr(docker_registry.time, "monotonic", lambda: now[0])
    adapter, issued = _adapter(expires_in)
    wanted = grants("team/app", frozenset({"pull"}))
    # nothing known yet: no headers to hand over without asking first
    assert adapter.ready_headers(wanted) is None
    assert adapter.send("HEAD", "/v2/team/app/blobs/sha256:x", wanted).status_code == 200
    assert issued == ["t0"]
    assert adapter.ready_headers(wanted) == {"Authorization": "Bearer t0"}
    now[0] += renewed_after - 2
    assert adapter.ready_headers(wanted) == {"Authorization": "Bearer t0"}
    now[0] += 2  # within 20 s of the end (60 s when the token service says nothing)
    assert adapter.ready_headers(wanted) == {"Authorization": "Bearer t1"}
    assert issued == ["t0", "t1"]


def test_an_anonymous_registry_is_known_after_its_first_answer():
    endpoint = SimpleNamespace(url="http://open.test", insecure=False, access_key="")
    adapter = DockerRegistryAdapter(
        endpoint, httpx.MockTransport(lambda request: httpx.Response(200))
    )
    wanted = grants("team/app", frozenset({"pull"}))
    assert adapter.ready_headers(wanted) is None
    adapter.send("GET", "/v2/", None)
    assert adapter.ready_headers(wanted) == {}
