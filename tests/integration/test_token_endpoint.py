"""GET /service/token: the Docker token endpoint, through Django's test client."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.conf import settings
from django.test import Client

from accounts.tokens import verify
from projects.roles import Role
from tests.integration.conftest import PASSWORD, assert_harbor_error, basic

pytestmark = pytest.mark.django_db

SERVICE = settings.HARBOR["TOKEN_SERVICE"]


def payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def get_token(
    client: Client,
    *scopes: str,
    auth: str | None = None,
    service: str | None = SERVICE,
    address: str = "192.0.2.1",
):
    params: dict[str, object] = {"scope": list(scopes)} if scopes else {}
    if service is not None:
        params["service"] = service
    headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.get("/service/token", params, REMOTE_ADDR=address, **headers)


@pytest.fixture
def client() -> Client:
    return Client()


def test_anonymous_gets_empty_access_on_private_project(client, make_project):
    make_project("priv")
    response = get_token(client, "repository:priv/app:pull")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "access_token", "expires_in", "issued_at"}
    assert body["token"] == body["access_token"]
    claims = payload(body["token"])
    assert claims["access"] == []
    assert claims["sub"] == ""
    assert verify(body["token"]).access == {}


def test_anonymous_gets_pull_on_public_project(client, make_project):
    make_project("pub", public=True)
    response = get_token(client, "repository:pub/app:pull,push")
    assert response.status_code == 200
    assert payload(response.json()["token"])["access"] == [
        {"type": "repository", "name": "pub/app", "actions": ["pull"]}
    ]


def test_token_metadata(client):
    response = get_token(client)
    body = response.json()
    assert body["expires_in"] == 30 * 60  # token_expiration default: 30 minutes
    issued = dt.datetime.fromisoformat(body["issued_at"])
    assert issued.tzinfo is not None
    assert int(issued.timestamp()) == payload(body["token"])["iat"]


def test_service_may_be_omitted(client):
    assert get_token(client, service=None).status_code == 200


def test_wrong_password_is_401_in_harbor_shape(client, make_user):
    make_user("alice")
    response = get_token(client, "repository:priv/app:pull", auth=basic("alice", "wrong"))
    assert_harbor_error(response, 401, "UNAUTHORIZED")


def test_unknown_user_is_401(client):
    response = get_token(client, auth=basic("ghost", PASSWORD))
    assert_harbor_error(response, 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Bearer abc.def.ghi",
        "Basic",
    ],
)
def test_malformed_authorization_is_401(client, header):
    response = get_token(client, auth=header)
    assert_harbor_error(response, 401, "UNAUTHORIZED")


def test_wrong_service_is_400(client, make_user):
    make_user("alice")
    response = get_token(client, auth=basic("alice", PASSWORD), service="other-registry")
    assert_harbor_error(response, 400, "BAD_REQUEST")


def test_developer_asking_pull_push_delete_gets_pull_push(client, make_user, make_project):
    dev = make_user("dev")
    make_project("priv", members={dev: Role.DEVELOPER})
    response = get_token(
        client, "repository:priv/app:pull,push,delete", auth=basic("dev", PASSWORD)
    )
    assert response.status_code == 200
    claims = payload(response.json()["token"])
    assert claims["sub"] == "dev"
    assert claims["aud"] == SERVICE
    assert claims["access"] == [
        {"type": "repository", "name": "priv/app", "actions": ["pull", "push"]}
    ]


def test_sysadmin_gets_catalog_with_several_scope_parameters(client, make_user, make_project):
    make_user("root", sysadmin=True)
    make_project("priv")
    response = get_token(
        client,
        "registry:catalog:*",
        "repository:priv/app:pull repository:priv/other:delete",
        auth=basic("root", PASSWORD),
    )
    access = payload(response.json()["token"])["access"]
    assert access == [
        {"type": "registry", "name": "catalog", "actions": ["*"]},
        {"type": "repository", "name": "priv/app", "actions": ["pull"]},
        {"type": "repository", "name": "priv/other", "actions": ["delete"]},
    ]


def test_normal_user_gets_no_catalog(client, make_user):
    make_user("alice")
    response = get_token(client, "registry:catalog:*", auth=basic("alice", PASSWORD))
    assert payload(response.json()["token"])["access"] == []


def test_throttled_login_is_429(client, make_user):
    make_user("alice")
    for _ in range(10):
        assert get_token(client, auth=basic("alice", "wrong")).status_code == 401
    response = get_token(client, auth=basic("alice", PASSWORD))
    assert_harbor_error(response, 429, "TOO_MANY_REQUESTS")
    # The same user from elsewhere still gets a token.
    assert get_token(client, auth=basic("alice", PASSWORD), address="192.0.2.99").status_code == 200


def test_throttling_uses_x_real_ip(client, make_user):
    make_user("alice")
    for _ in range(10):
        client.get(
            "/service/token",
            HTTP_AUTHORIZATION=basic("alice", "wrong"),
            HTTP_X_REAL_IP="198.51.100.7",
            REMOTE_ADDR="127.0.0.1",
        )
    throttled = client.get(
        "/service/token",
        HTTP_AUTHORIZATION=basic("alice", PASSWORD),
        HTTP_X_REAL_IP="198.51.100.7",
        REMOTE_ADDR="127.0.0.1",
    )
    assert throttled.status_code == 429
    other = client.get(
        "/service/token",
        HTTP_AUTHORIZATION=basic("alice", PASSWORD),
        HTTP_X_REAL_IP="198.51.100.8",
        REMOTE_ADDR="127.0.0.1",
    )
    assert other.status_code == 200


def test_only_get_is_allowed(client):
    assert client.post("/service/token").status_code == 405
