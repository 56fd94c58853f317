"""Bad input gets a 4xx in Harbor's error shape (API) or an OCI error (/v2), never a 5xx
(issue #20): OPTIONS on detail endpoints, integers beyond 64 bits, impossible dates,
deeply nested and oversized bodies, out-of-range settings and robot durations."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Robot
from accounts.tokens import Scope, mint
from quotas import services as quota_services
from tests.integration.conftest import assert_harbor_error
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999999"


@pytest.fixture
def world(admin, make_project, client_for):
    project = make_project("demo", owner=admin)
    image(project, "app", "v1")
    quota = quota_services.quota_of(project)
    return {"admin": client_for(admin), "project": project, "quota": quota.pk}


DETAILS = [
    "/api/v2.0/users/1",
    "/api/v2.0/users/1/password",
    "/api/v2.0/users/1/sysadmin",
    "/api/v2.0/projects/1",
    "/api/v2.0/projects/1/members/1",
    "/api/v2.0/projects/1/metadatas/public",
    "/api/v2.0/projects/1/immutabletagrules/1",
    "/api/v2.0/projects/demo/repositories/app",
    "/api/v2.0/projects/demo/repositories/app/artifacts/v1/labels/1",
    "/api/v2.0/labels/1",
    "/api/v2.0/robots/1",
    "/api/v2.0/quotas/1",
    "/api/v2.0/usergroups/1",
]


@pytest.mark.parametrize("path", DETAILS)
def test_options_on_detail_endpoints_lists_the_methods(world, path):
    for client in (world["admin"], APIClient()):
        response = client.options(path)
        if response.status_code == 200:
            assert "OPTIONS" in response.json()["allowed_methods"]
        else:
            assert_harbor_error(response, 401)


@pytest.mark.parametrize(
    "query",
    [
        f"/api/v2.0/projects?page={HUGE}",
        f"/api/v2.0/projects?page_size={HUGE}",
        f"/api/v2.0/projects?q=owner_id%3D{HUGE}",
        f"/api/v2.0/projects/demo/repositories/app/artifacts?page={HUGE}",
        f"/api/v2.0/audit-logs?q=id%3D{HUGE}",
        f"/api/v2.0/labels?scope=g&q=id%3D{HUGE}",
        f"/api/v2.0/users?q=user_id%3D{HUGE}",
    ],
)
def test_integers_beyond_64_bits_are_400(world, query):
    assert_harbor_error(world["admin"].get(query), 400)


@pytest.mark.parametrize(
    "query",
    [
        "/api/v2.0/projects?q=creation_time%3D2020-02-30",
        "/api/v2.0/users?q=creation_time%3D2020-02-30",
        "/api/v2.0/audit-logs?q=op_time%3D2020-02-30",
        "/api/v2.0/audit-logs?q=op_time%3D%5B2020-02-30~2020-03-01%5D",
        "/api/v2.0/projects/demo/logs?q=op_time%3D2020-02-30T10:00:00",
    ],
)
def test_impossible_dates_are_400(world, query):
    error = assert_harbor_error(world["admin"].get(query), 400)
    assert "2020-02-30" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v2.0/projects", {"project_name": "big", "storage_limit": 2**70}),
        ("put", "/api/v2.0/quotas/{quota}", {"hard": {"storage": 2**70}}),
        ("put", "/api/v2.0/configurations", {"token_expiration": 10**12}),
        ("put", "/api/v2.0/configurations", {"robot_token_duration": 10**12}),
        ("put", "/api/v2.0/configurations", {"storage_per_project": 2**64}),
        (
            "post",
            "/api/v2.0/robots",
            {
                "name": "far",
                "duration": 10**13,
                "level": "project",
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "demo",
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        ),
    ],
)
def test_out_of_range_values_are_refused_on_write(world, method, path, body):
    path = path.format(quota=world["quota"])
    response = getattr(world["admin"], method)(path, body, format="json")
    assert_harbor_error(response, 400)
    assert not Robot.objects.exists()


def test_deeply_nested_json_is_400(world):
    body = '{"a":' * 100_000 + "1" + "}" * 100_000
    response = world["admin"].post("/api/v2.0/projects", body, content_type="application/json")
    assert_harbor_error(response, 400)


def test_a_body_over_the_limit_is_413(world, settings):
    body = '{"project_name": "' + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'
    response = world["admin"].post("/api/v2.0/projects", body, content_type="application/json")
    assert_harbor_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_stored_robot_expiring_after_year_9999_renders(world, admin):
    """Robots written before durations were bounded: the page shows them instead of a 500."""
    robot = Robot.objects.create(
        name="robot$demo+far",
        level=Robot.Level.PROJECT,
        project=world["project"],
        duration=3_000_000,  # days: past year 10000
        expires_at=int(time.time()) + 3_000_000 * 86400,
        secret="x",
        creator_ref=admin.pk,
    )
    client = Client()
    client.force_login(admin)
    response = client.get("/projects/demo/robots")
    assert response.status_code == 200
    assert robot.name in response.content.decode()
    api = world["admin"].get(
        f"/api/v2.0/robots?q=Level%3Dproject,ProjectID%3D{world['project'].pk}"
    )
    assert api.status_code == 200, api.content


@pytest.mark.parametrize("path", ["/v2/_catalog", "/v2/demo/app/tags/list"])
def test_v2_n_beyond_64_bits_is_answered(world, path):
    token, _, _ = mint(
        "admin",
        [
            Scope("repository", "demo/app", frozenset({"pull"})),
            Scope("registry", "catalog", frozenset({"*"})),
        ],
    )
    response = Client().get(f"{path}?n={HUGE}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert "Link" not in response


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v2.0/ldap/users/search?username=a", None),
        ("get", "/api/v2.0/ldap/groups/search?groupname=a", None),
        ("post", "/api/v2.0/ldap/users/import", {"ldap_uid_list": ["a"]}),
    ],
)
def test_ldap_tools_without_ldap_configured_say_so_with_a_4xx(world, method, path, body):
    response = getattr(world["admin"], method)(path, body, format="json")
    error = assert_harbor_error(response, 412, "PRECONDITION")
    assert "LDAP is not configured" in error["message"]


# --- Harbor's error shape on every refusal we own --------------------------------------


def test_post_to_the_token_service_is_a_405_in_harbors_shape(db):
    response = Client().post("/service/token", {"grant_type": "password"})
    error = assert_harbor_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in error["message"] and response["Allow"] == "GET, HEAD"


def test_csrf_refusals_are_in_harbors_shape(admin):
    client = Client(enforce_csrf_checks=True)
    login = client.post("/c/login", {"principal": "admin", "password": "x"})
    assert_harbor_error(login, 403, "FORBIDDEN")
    client.force_login(admin)
    api = client.post("/api/v2.0/projects", {"project_name": "x"}, content_type="application/json")
    assert_harbor_error(api, 403)


def test_a_host_the_configuration_does_not_name_is_refused_in_harbors_shape(db):
    response = Client().get("/api/v2.0/ping", HTTP_HOST="evil.example")
    assert_harbor_error(response, 400, "BAD_REQUEST")
    registry = Client().get("/v2/demo/app/tags/list", HTTP_HOST="evil.example")
    assert registry.status_code == 400
    assert registry.json()["errors"][0]["code"] == "UNSUPPORTED"


def test_unknown_registry_routes_and_bad_digests_answer_oci_errors(world):
    token, _, _ = mint("admin", [Scope("repository", "demo/app", frozenset({"pull"}))])
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    unknown = Client().get("/v2/demo/app/blobs/", **bearer)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == "UNSUPPORTED"
    for method in ("get", "head", "delete"):
        bad = getattr(Client(), method)("/v2/demo/app/blobs/sha256:zz", **bearer)
        assert bad.status_code == 400
    bad = Client().get("/v2/demo/app/blobs/0:", **bearer)
    assert bad.json()["errors"][0]["code"] == "DIGEST_INVALID"
