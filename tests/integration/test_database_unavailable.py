"""While PostgreSQL has no primary (a failover), requests answer 503 with Retry-After, in
each surface's error shape, instead of 500: the API, the token service and the /v2 gate.
The database is made unreachable for real: the connection is pointed at a closed port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
