"""While PostgreSQL has no primary or Redis fails over, requests answer 503 with
Retry-After, in each surface's error shape, instead of 500: the API, the token service and
the /v2 gate. The service is made unreachable for real: its connection is pointed at a
closed port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.core.cache import caches
from django.db import connection
from django.test import Client

from tests.distribution import bearer
from tests.integration.conftest import PASSWORD, basic
from tests.stack import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database_down(admin) -> Iterator[str]:
    bearer_header = bearer("admin", "p/app", {"pull"})  # minted while the database answers
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    try:
        yield bearer_header
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def _assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"
    (error,) = response.json()["errors"]
    assert error["code"] == code and "database is unavailable" in error["message"]


def test_api_token_and_gate_answer_503(database_down):
    client = Client(raise_request_exception=False)  # as gunicorn: handler500 answers
    auth = basic("admin", PASSWORD)
    _assert_unavailable(
        client.get("/api/v2.0/projects", HTTP_AUTHORIZATION=auth), "SERVICE_UNAVAILABLE"
    )
    _assert_unavailable(
        client.get(
            "/service/token",
            {"service": "harbor-registry", "scope": "repository:p/app:pull"},
            HTTP_AUTHORIZATION=auth,
        ),
        "SERVICE_UNAVAILABLE",
    )
    gate = client.get("/v2/p/app/manifests/v1", HTTP_AUTHORIZATION=database_down)
    _assert_unavailable(gate, "UNAVAILABLE")
    assert gate["Docker-Distribution-Api-Version"] == "registry/2.0"


@pytest.fixture
def redis_down(admin, monkeypatch) -> Iterator[str]:
    """The cache's client pointed at a closed port: what a Redis failover looks like to a
    command (redis_conn follows the new master once Sentinel has promoted one)."""
    bearer_header = bearer("admin", "p/app", {"pull"})  # minted while Redis answers
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    client = caches["default"]._cache  # the backend's client: get_client builds none now
    monkeypatch.setattr(client, "get_client", lambda key=None, *, write=False: dead)
    yield bearer_header


def test_api_and_token_answer_503_while_redis_fails_over(redis_down):
    client = Client(raise_request_exception=False)  # as the web server: handler500 answers
    auth = basic("admin", PASSWORD)
    token = client.get(
        "/service/token",
        {"service": "harbor-registry", "scope": "repository:p/app:pull"},
        HTTP_AUTHORIZATION=auth,
    )
    for response in (client.get("/api/v2.0/projects", HTTP_AUTHORIZATION=auth), token):
        assert response.status_code == 503, response.content
        assert response["Retry-After"] == "5"
        (error,) = response.json()["errors"]
        assert error["code"] == "SERVICE_UNAVAILABLE", error
        assert "Redis is unavailable" in error["message"], error
    # The gate does without Redis (registry.access): it answers from the database.
    gate = client.get("/v2/p/app/manifests/v1", HTTP_AUTHORIZATION=redis_down)
    assert gate.status_code == 404 and gate.json()["errors"][0]["code"] == "NAME_UNKNOWN"
