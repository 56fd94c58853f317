"""health, ping, systeminfo, volumes, getcert, version and configurations."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from harbor_py.core import configuration
from harbor_py.models import ConfigEntry
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


def test_ping(anon_client):
    response = anon_client.get("/api/v2.0/ping")
    assert response.status_code == 200
    assert response.content == b"Pong"


def test_health_names_every_component(anon_client):
    response = anon_client.get("/api/v2.0/health")
    assert_matches("getHealth", response, 200)
    names = [c["name"] for c in response.json()["components"]]
    assert names == ["core", "database", "redis", "registry", "storage", "jobservice", "scanner"]
    # No platform runs under the unit tests: the registry and the worker are down.
    assert response.json()["status"] == "unhealthy"
    by_name = {c["name"]: c["status"] for c in response.json()["components"]}
    assert by_name["database"] == by_name["redis"] == "healthy"
    assert by_name["registry"] == "unhealthy"


def test_systeminfo_anonymous_and_authenticated(anon_client, admin, client_for):
    anonymous = anon_client.get("/api/v2.0/systeminfo")
    assert_matches("getSystemInfo", anonymous, 200)
    assert "external_url" not in anonymous.json()
    assert anonymous.json()["auth_mode"] == "db_auth"
    full = client_for(admin).get("/api/v2.0/systeminfo")
    assert_matches("getSystemInfo", full, 200)
    assert full.json()["project_creation_restriction"] == "everyone"


def test_volumes_are_for_sysadmins(admin, make_user, client_for, anon_client):
    response = client_for(admin).get("/api/v2.0/systeminfo/volumes")
    assert_matches("getVolumes", response, 200)
    assert response.json()["storage"][0]["total"] > 0
    assert_harbor_error(client_for(make_user()).get("/api/v2.0/systeminfo/volumes"), 403)
    assert_harbor_error(anon_client.get("/api/v2.0/systeminfo/volumes"), 401)


def test_getcert_is_not_found(anon_client):
    assert_harbor_error(anon_client.get("/api/v2.0/systeminfo/getcert"), 404, "NOT_FOUND")


def test_version(anon_client):
    assert anon_client.get("/api/version").json() == {"version": "v2.0"}


def test_configurations_get_and_put(admin, client_for):
    api = client_for(admin)
    response = api.get("/api/v2.0/configurations")
    assert_matches("getConfigurations", response, 200)
    body = response.json()
    assert body["auth_mode"] == {"value": "db_auth", "editable": True}
    assert "ldap_search_password" not in body

    changed = api.put(
        "/api/v2.0/configurations",
        {
            "project_creation_restriction": "adminonly",
            "token_expiration": 45,
            "ldap_search_password": "s3cret!",
        },
        format="json",
    )
    assert changed.status_code == 200
    assert configuration.get("project_creation_restriction") == "adminonly"
    assert configuration.get("token_expiration") == 45
    assert configuration.get("ldap_search_password") == "s3cret!"
    stored = ConfigEntry.objects.get(key="ldap_search_password").value
    assert "s3cret" not in stored and stored.startswith("enc:")
    entry = AuditLog.objects.filter(resource_type="configuration").latest("id")
    assert "s3cret" not in entry.description and "ldap_search_password=***" in entry.description


@pytest.mark.parametrize(
    "body",
    [
        {"no_such_key": 1},
        {"auth_mode": "magic"},
        {"token_expiration": "30"},
        {"token_expiration": 0},
        {"self_registration": "yes"},
        {"storage_per_project": -5},
        {},
    ],
)
def test_configurations_refuse_bad_values_and_keep_old_ones(admin, client_for, body):
    api = client_for(admin)
    api.put("/api/v2.0/configurations", {"token_expiration": 40}, format="json")
    response = api.put("/api/v2.0/configurations", body, format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert configuration.get("token_expiration") == 40
    assert configuration.get("auth_mode") == "db_auth"


def test_configurations_need_a_sysadmin(make_user, client_for, anon_client):
    assert_harbor_error(client_for(make_user()).get("/api/v2.0/configurations"), 403)
    assert_harbor_error(anon_client.put("/api/v2.0/configurations", {}, format="json"), 401)


def test_auth_mode_is_locked_once_users_exist(admin, make_user, client_for):
    make_user()
    response = client_for(admin).put(
        "/api/v2.0/configurations", {"auth_mode": "ldap_auth"}, format="json"
    )
    assert_harbor_error(response, 400)
    assert configuration.get("auth_mode") == "db_auth"


def test_token_lifetime_follows_the_setting(admin, client_for):
    client_for(admin).put("/api/v2.0/configurations", {"token_expiration": 5}, format="json")
    token = client_for(admin).get("/service/token", {"service": "harbor-registry"})
    assert token.json()["expires_in"] == 300


def test_adminonly_project_creation(admin, make_user, client_for):
    client_for(admin).put(
        "/api/v2.0/configurations", {"project_creation_restriction": "adminonly"}, format="json"
    )
    user = make_user()
    refused = client_for(user).post("/api/v2.0/projects", {"project_name": "mine"}, format="json")
    assert_harbor_error(refused, 403)
    allowed = client_for(admin).post("/api/v2.0/projects", {"project_name": "mine"}, format="json")
    assert allowed.status_code == 201


def test_error_messages_are_plain_sentences(anon_client):
    response = anon_client.get(
        "/api/v2.0/users",
        HTTP_AUTHORIZATION="Basic " + "YWRtaW46d3Jvbmc=",  # admin:wrong
    )
    message = assert_harbor_error(response, 401, "UNAUTHORIZED")["message"]
    assert not message.startswith("detail")
    assert "invalid username or password" in message
