"""/api/v2.0/users, pagination, the Harbor error shape and request ids."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from accounts.models import User
from audit.models import AuditLog
from tests.integration.conftest import PASSWORD, assert_harbor_error

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/users"


def new_user(**overrides) -> dict:
    body = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password": "Newbie1234",
        "realname": "New Bie",
    }
    body.update(overrides)
    return body


def links(response) -> dict[str, dict[str, list[str]]]:
    """rel -> query parameters of each URL in the Link header."""
    result = {}
    for part in response["Link"].split(","):
        match = re.fullmatch(r'\s*<([^>]+)>; rel="(\w+)"\s*', part)
        assert match, part
        url = urlparse(match[1])
        assert url.path == URL
        result[match[2]] = parse_qs(url.query)
    return result


# --- access --------------------------------------------------------------------------------


def test_anonymous_is_401(anon_client):
    assert_harbor_error(anon_client.get(URL), 401, "UNAUTHORIZED")
    response = anon_client.post(URL, new_user(), format="json")
    assert_harbor_error(response, 401, "UNAUTHORIZED")
    assert response["WWW-Authenticate"].startswith("Basic")
    assert not User.objects.filter(username="newbie").exists()


def test_normal_user_is_403(make_user, client_for):
    client = client_for(make_user())
    assert_harbor_error(client.get(URL), 403, "FORBIDDEN")
    assert_harbor_error(client.post(URL, new_user(), format="json"), 403, "FORBIDDEN")
    assert not User.objects.filter(username="newbie").exists()


def test_wrong_password_is_401_even_on_open_endpoints(make_user, client_for):
    user = make_user()
    assert_harbor_error(client_for(user, "wrong").get(URL), 401, "UNAUTHORIZED")
    assert_harbor_error(client_for(user, "wrong").get("/api/v2.0/projects"), 401, "UNAUTHORIZED")


def test_malformed_basic_is_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Basic %%%")
    assert_harbor_error(anon_client.get("/api/v2.0/projects"), 401, "UNAUTHORIZED")


def test_api_login_is_throttled(make_user, client_for):
    user = make_user()
    for _ in range(10):
        client_for(user, "wrong").get(URL, REMOTE_ADDR="203.0.113.5")
    response = client_for(user).get("/api/v2.0/projects", REMOTE_ADDR="203.0.113.5")
    assert_harbor_error(response, 429, "TOO_MANY_REQUESTS")


# --- create --------------------------------------------------------------------------------


def test_sysadmin_creates_user(admin, client_for):
    client = client_for(admin)
    response = client.post(URL, new_user(), format="json")
    assert response.status_code == 201, response.content
    created = User.objects.get(username="newbie")
    assert response["Location"] == f"/api/v2.0/users/{created.pk}"
    assert created.email == "newbie@example.com"
    assert created.realname == "New Bie"
    assert not created.is_superuser
    assert created.check_password("Newbie1234")
    assert "Newbie1234" not in created.password
    assert AuditLog.objects.filter(
        operation="create", resource_type="user", resource="newbie", username="admin"
    ).exists()


def test_sysadmin_flag_in_body_is_ignored(admin, client_for):
    response = client_for(admin).post(URL, new_user(sysadmin_flag=True), format="json")
    assert response.status_code == 201
    assert not User.objects.get(username="newbie").is_superuser


def test_duplicate_username_is_409(admin, client_for):
    client = client_for(admin)
    assert client.post(URL, new_user(), format="json").status_code == 201
    response = client.post(URL, new_user(email="other@example.com"), format="json")
    assert_harbor_error(response, 409, "CONFLICT")


def test_duplicate_email_is_409(admin, client_for):
    client = client_for(admin)
    assert client.post(URL, new_user(), format="json").status_code == 201
    response = client.post(
        URL, new_user(username="other", email="NEWBIE@example.com"), format="json"
    )
    assert_harbor_error(response, 409, "CONFLICT")
    assert not User.objects.filter(username="other").exists()


@pytest.mark.parametrize(
    "password",
    ["short1A", "alllowercase1", "ALLUPPERCASE1", "NoDigitsHere", "", "A1a" * 43],
)
def test_weak_password_is_400(admin, client_for, password):
    response = client_for(admin).post(URL, new_user(password=password), format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert not User.objects.filter(username="newbie").exists()


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
def test_invalid_email_is_400(admin, client_for, email):
    response = client_for(admin).post(URL, new_user(email=email), format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")


@pytest.mark.parametrize("username", ["has space", "a,b", "a:b", "a/b", "robot$ci", "x" * 256])
def test_invalid_username_is_400(admin, client_for, username):
    response = client_for(admin).post(URL, new_user(username=username), format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")


def test_missing_fields_are_400(admin, client_for):
    response = client_for(admin).post(URL, {"username": "x"}, format="json")
    error = assert_harbor_error(response, 400, "BAD_REQUEST")
    assert "email" in error["message"] and "password" in error["message"]


def test_invalid_json_is_400(admin, client_for):
    response = client_for(admin).post(URL, "{not json", content_type="application/json")
    assert_harbor_error(response, 400, "BAD_REQUEST")


def test_form_body_is_415(admin, client_for):
    response = client_for(admin).post(URL, new_user(), format="multipart")
    assert_harbor_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_method_not_allowed_is_405(admin, client_for):
    assert_harbor_error(client_for(admin).delete(URL), 405, "METHOD_NOT_ALLOWED")


# --- list and pagination -------------------------------------------------------------------


def test_list_users(admin, make_user, client_for):
    make_user("alice")
    response = client_for(admin).get(URL)
    assert response.status_code == 200
    assert response["X-Total-Count"] == "2"
    users = response.json()
    assert [u["username"] for u in users] == ["admin", "alice"]
    alice = users[1]
    assert alice["user_id"] == User.objects.get(username="alice").pk
    assert alice["email"] == "alice@example.com"
    assert alice["sysadmin_flag"] is False
    assert users[0]["sysadmin_flag"] is True
    assert "password" not in alice
    assert not response.has_header("Link")  # a single page


def test_pagination_headers(admin, make_user, client_for):
    for i in range(24):
        make_user(f"u{i:02d}")
    client = client_for(admin)

    first = client.get(URL, {"page_size": 10})
    assert first["X-Total-Count"] == "25"
    assert len(first.json()) == 10
    assert set(links(first)) == {"next"}
    assert links(first)["next"]["page"] == ["2"]
    assert links(first)["next"]["page_size"] == ["10"]

    middle = client.get(URL, {"page": 2, "page_size": 10})
    assert set(links(middle)) == {"prev", "next"}
    assert links(middle)["prev"]["page"] == ["1"]
    assert links(middle)["next"]["page"] == ["3"]

    last = client.get(URL, {"page": 3, "page_size": 10})
    assert len(last.json()) == 5
    assert set(links(last)) == {"prev"}

    beyond = client.get(URL, {"page": 9, "page_size": 10})
    assert beyond.status_code == 200
    assert beyond.json() == []
    assert beyond["X-Total-Count"] == "25"

    pages = [client.get(URL, {"page": p, "page_size": 10}).json() for p in (1, 2, 3)]
    names = [u["username"] for page in pages for u in page]
    assert len(names) == len(set(names)) == 25


def test_default_page_size_is_10(admin, make_user, client_for):
    User.objects.bulk_create(User(username=f"bulk{i}", email=f"b{i}@x.io") for i in range(14))
    response = client_for(admin).get(URL)
    assert len(response.json()) == 10
    assert response["X-Total-Count"] == "15"


def test_page_size_is_capped_at_100(admin, client_for):
    User.objects.bulk_create(User(username=f"bulk{i:03d}", email=f"b{i}@x.io") for i in range(120))
    response = client_for(admin).get(URL, {"page_size": 500})
    assert response.status_code == 200
    assert len(response.json()) == 100
    assert response["X-Total-Count"] == "121"
    assert links(response)["next"]["page_size"] == ["100"]


def test_link_keeps_other_query_parameters(admin, make_user, client_for):
    for i in range(3):
        make_user(f"u{i}")
    response = client_for(admin).get(URL, {"page_size": 1, "q": "username=~u"})
    assert links(response)["next"]["q"] == ["username=~u"]


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": "abc"},
        {"page": -1},
        {"page": "1.5"},
        {"page_size": 0},
        {"page_size": "abc"},
        {"page_size": -5},
    ],
)
def test_bad_paging_is_400(admin, client_for, params):
    assert_harbor_error(client_for(admin).get(URL, params), 400, "BAD_REQUEST")


# --- request ids ---------------------------------------------------------------------------


def test_request_id_is_echoed(anon_client):
    response = anon_client.get("/api/v2.0/projects", HTTP_X_REQUEST_ID="req-123.abc:4")
    assert response["X-Request-Id"] == "req-123.abc:4"


def test_request_id_is_minted_when_missing(anon_client):
    first = anon_client.get("/api/v2.0/projects")["X-Request-Id"]
    second = anon_client.get("/api/v2.0/projects")["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_unsafe_request_id_is_replaced(anon_client):
    response = anon_client.get("/api/v2.0/projects", HTTP_X_REQUEST_ID="bad id\r\nX-Evil: 1")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-Id"])
    too_long = anon_client.get("/api/v2.0/projects", HTTP_X_REQUEST_ID="a" * 200)
    assert too_long["X-Request-Id"] != "a" * 200


def test_request_id_on_errors_and_token_endpoint(anon_client):
    error = anon_client.get(URL, HTTP_X_REQUEST_ID="err-1")
    assert error.status_code == 401
    assert error["X-Request-Id"] == "err-1"
    token = anon_client.get("/service/token", HTTP_X_REQUEST_ID="tok-1")
    assert token["X-Request-Id"] == "tok-1"


def test_sysadmin_basic_login_works_with_fixture_password(admin, client_for):
    """Guards the helpers themselves: a wrong password in the fixtures would hide bugs."""
    assert client_for(admin, PASSWORD).get(URL).status_code == 200
