"""Robot accounts: /robots (Harbor's shapes), Basic auth on the API and at /service/token,
permissions that never exceed the creator's, disable, expiry and secret refresh."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import credentials
from accounts.login import authenticate_credentials
from accounts.models import Robot
from audit.models import AuditLog
from harbor_py.core import configuration
from projects.roles import Role
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error, basic
from tests.integration.test_token_endpoint import get_token, payload

pytestmark = pytest.mark.django_db


def access(*pairs: str) -> list[dict[str, str]]:
    return [{"resource": p.split(":")[0], "action": p.split(":")[1]} for p in pairs]


def project_robot(project: str, name: str = "ci", *pairs: str, **extra) -> dict:
    pairs = pairs or ("repository:pull", "repository:push")
    return {
        "name": name,
        "level": "project",
        "duration": -1,
        "permissions": [{"kind": "project", "namespace": project, "access": access(*pairs)}],
        **extra,
    }


def robot_client(name: str, secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(name, secret))
    return client


@pytest.fixture
def world(make_user, make_project, client_for):
    owner = make_user()
    developer = make_user()
    granted = make_project("granted", owner=owner, members={developer: Role.DEVELOPER})
    other = make_project("other", owner=owner)
    return {
        "owner": owner,
        "owner_client": client_for(owner),
        "developer_client": client_for(developer),
        "granted": granted,
        "other": other,
    }


def create(client: APIClient, body: dict) -> dict:
    response = client.post("/api/v2.0/robots", body, format="json")
    assert_matches("CreateRobot", response, 201)
    return response.json()


def test_project_admin_creates_a_project_robot_whose_secret_is_shown_once(world):
    created = create(world["owner_client"], project_robot("granted", description="CI"))
    assert created["name"] == "robot$granted+ci"
    assert created["expires_at"] == -1
    robot = Robot.objects.get(pk=created["id"])
    assert robot.secret != created["secret"] and created["secret"] not in robot.secret
    shown = world["owner_client"].get(f"/api/v2.0/robots/{created['id']}")
    assert_matches("GetRobotByID", shown, 200)
    assert "secret" not in shown.json()
    assert shown.json()["permissions"][0]["namespace"] == "granted"
    assert shown.json()["level"] == "project" and shown.json()["creator_type"] == "local"
    assert AuditLog.objects.filter(resource="robot$granted+ci", operation="create").exists()


def test_creating_robots_is_refused_without_the_permission_and_harms_nothing(world):
    refused = world["developer_client"].post(
        "/api/v2.0/robots", project_robot("granted"), format="json"
    )
    assert_harbor_error(refused, 403, "FORBIDDEN")
    # A project admin cannot make a system robot, nor reach into another project.
    system = {**project_robot("granted"), "level": "system"}
    system["permissions"][0]["namespace"] = "*"
    assert_harbor_error(world["owner_client"].post("/api/v2.0/robots", system, format="json"), 403)
    two = project_robot("granted")
    two["permissions"].append({**two["permissions"][0], "namespace": "other"})
    assert_harbor_error(world["owner_client"].post("/api/v2.0/robots", two, format="json"), 400)
    assert not Robot.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Bad Name"},
        {"duration": -5},
        {"level": "galaxy"},
        {"permissions": []},
        {"secret": "short"},
        {"permissions": [{"kind": "project", "namespace": "granted", "access": []}]},
        {
            "permissions": [
                {"kind": "project", "namespace": "granted", "access": access("repository:fly")}
            ]
        },
    ],
)
def test_bad_robot_bodies_are_400(world, change):
    response = world["owner_client"].post(
        "/api/v2.0/robots", {**project_robot("granted"), **change}, format="json"
    )
    assert_harbor_error(response, 400)
    assert not Robot.objects.exists()


def test_duplicate_name_is_409(world):
    create(world["owner_client"], project_robot("granted"))
    again = world["owner_client"].post("/api/v2.0/robots", project_robot("granted"), format="json")
    assert_harbor_error(again, 409, "CONFLICT")


def test_a_robot_cannot_create_robots_with_more_than_it_has(world):
    created = create(world["owner_client"], project_robot("granted"))
    as_robot = robot_client(created["name"], created["secret"])
    refused = as_robot.post(
        "/api/v2.0/robots", project_robot("granted", "child", "repository:pull"), format="json"
    )
    assert_harbor_error(refused, 403)
    assert Robot.objects.count() == 1


def test_robot_basic_auth_on_the_api_sees_exactly_its_projects(world):
    created = create(
        world["owner_client"],
        project_robot("granted", "ci", "repository:pull", "repository:push", "repository:list"),
    )
    as_robot = robot_client(created["name"], created["secret"])
    projects = as_robot.get("/api/v2.0/projects")
    assert projects.status_code == 200
    assert [p["name"] for p in projects.json()] == ["granted"]
    assert as_robot.get("/api/v2.0/projects/granted/repositories").status_code == 200
    assert_harbor_error(as_robot.get("/api/v2.0/projects/other/repositories"), 404)
    assert_harbor_error(as_robot.get("/api/v2.0/projects/granted/members"), 403)


def test_token_service_grants_a_robot_its_projects_only(world):
    created = create(world["owner_client"], project_robot("granted"))
    auth = basic(created["name"], created["secret"])
    response = get_token(
        Client(), "repository:granted/app:pull,push,delete", "repository:other/app:pull", auth=auth
    )
    assert response.status_code == 200
    claims = payload(response.json()["token"])
    assert claims["sub"] == "robot$granted+ci"
    assert claims["access"] == [
        {"type": "repository", "name": "granted/app", "actions": ["pull", "push"]}
    ]


def test_system_robot_on_all_projects(world, admin, client_for):
    body = {
        "name": "fleet",
        "level": "system",
        "duration": 30,
        "permissions": [
            {"kind": "project", "namespace": "*", "access": access("repository:pull")},
            {"kind": "system", "namespace": "/", "access": access("audit-log:list")},
        ],
    }
    created = create(client_for(admin), body)
    assert created["name"] == "robot$fleet"
    assert abs(created["expires_at"] - (time.time() + 30 * 86400)) < 60
    auth = basic(created["name"], created["secret"])
    claims = payload(get_token(Client(), "repository:other/x:pull,push", auth=auth).json()["token"])
    assert claims["access"] == [{"type": "repository", "name": "other/x", "actions": ["pull"]}]


def test_disabled_and_expired_robots_are_refused_everywhere(world):
    created = create(world["owner_client"], project_robot("granted"))
    auth = basic(created["name"], created["secret"])
    Robot.objects.filter(pk=created["id"]).update(disabled=True)
    assert_harbor_error(get_token(Client(), "repository:granted/app:pull", auth=auth), 401)
    refused = robot_client(created["name"], created["secret"]).get("/api/v2.0/projects")
    assert_harbor_error(refused, 401)
    assert "disabled" in refused.json()["errors"][0]["message"]
    Robot.objects.filter(pk=created["id"]).update(disabled=False, expires_at=int(time.time()) - 1)
    assert_harbor_error(get_token(Client(), "repository:granted/app:pull", auth=auth), 401)
    expired = robot_client(created["name"], created["secret"]).get("/api/v2.0/projects")
    assert "expired" in assert_harbor_error(expired, 401)["message"]


def test_wrong_secret_is_refused_without_telling_the_status(world):
    created = create(world["owner_client"], project_robot("granted"))
    Robot.objects.filter(pk=created["id"]).update(disabled=True)
    refused = robot_client(created["name"], "Wrong0secret").get("/api/v2.0/projects")
    assert "disabled" not in assert_harbor_error(refused, 401)["message"]


def test_refresh_secret_replaces_the_old_one(world):
    created = create(world["owner_client"], project_robot("granted"))
    refreshed = world["owner_client"].patch(f"/api/v2.0/robots/{created['id']}", {}, format="json")
    assert_matches("RefreshSec", refreshed, 200)
    new = refreshed.json()["secret"]
    assert new != created["secret"]
    assert_harbor_error(
        robot_client(created["name"], created["secret"]).get("/api/v2.0/projects"), 401
    )
    assert robot_client(created["name"], new).get("/api/v2.0/projects").status_code == 200
    # The robot may set its own secret; a weak one is refused.
    as_robot = robot_client(created["name"], new)
    weak = as_robot.patch(f"/api/v2.0/robots/{created['id']}", {"secret": "weak"}, format="json")
    assert_harbor_error(weak, 400)
    chosen = as_robot.patch(
        f"/api/v2.0/robots/{created['id']}", {"secret": "Chosen1Secret"}, format="json"
    )
    assert chosen.json() == {"secret": "Chosen1Secret"}
    assert (
        robot_client(created["name"], "Chosen1Secret").get("/api/v2.0/projects").status_code == 200
    )


def test_update_changes_permissions_and_disable_but_not_the_name(world):
    created = create(world["owner_client"], project_robot("granted"))
    url = f"/api/v2.0/robots/{created['id']}"
    body = project_robot("granted", "ci", "repository:pull", disable=True)
    assert world["owner_client"].put(url, body, format="json").status_code == 200
    robot = Robot.objects.get(pk=created["id"])
    assert robot.disabled
    assert robot.permissions[0]["access"] == [
        {"resource": "repository", "action": "pull", "effect": "allow"}
    ]
    renamed = world["owner_client"].put(url, project_robot("granted", "other"), format="json")
    assert_harbor_error(renamed, 400)
    assert_harbor_error(world["developer_client"].put(url, body, format="json"), 403)


def test_list_and_delete(world, admin, client_for):
    created = create(world["owner_client"], project_robot("granted"))
    listed = world["owner_client"].get(
        "/api/v2.0/robots", {"q": f"Level=project,ProjectID={world['granted'].pk}"}
    )
    assert_matches("ListRobot", listed, 200)
    assert [r["name"] for r in listed.json()] == ["robot$granted+ci"]
    assert listed["X-Total-Count"] == "1"
    assert_harbor_error(world["owner_client"].get("/api/v2.0/robots"), 403)
    assert client_for(admin).get("/api/v2.0/robots").json()[0]["id"] == created["id"]
    assert_harbor_error(world["developer_client"].delete(f"/api/v2.0/robots/{created['id']}"), 403)
    deleted = world["owner_client"].delete(f"/api/v2.0/robots/{created['id']}")
    assert deleted.status_code == 200
    assert not Robot.objects.exists()
    assert_harbor_error(world["owner_client"].get(f"/api/v2.0/robots/{created['id']}"), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2.0/users/current",
        "/api/v2.0/users/current/permissions?scope=/project/{pid}",
        "/api/v2.0/projects/granted",
        "/api/v2.0/projects/granted/summary",
        "/api/v2.0/projects/granted/logs",
        "/api/v2.0/audit-logs",
        "/api/v2.0/search?q=gran",
        "/api/v2.0/statistics",
        "/api/v2.0/robots/{rid}",
        "/api/v2.0/users",
        "/api/v2.0/quotas",
    ],
)
def test_a_robot_on_any_endpoint_gets_an_answer_not_a_crash(world, path):
    created = create(world["owner_client"], project_robot("granted"))
    url = path.format(pid=world["granted"].pk, rid=created["id"])
    response = robot_client(created["name"], created["secret"]).get(url)
    assert response.status_code < 500, (response.status_code, response.content[:300])


def test_a_robot_cannot_create_projects(world):
    created = create(world["owner_client"], project_robot("granted"))
    as_robot = robot_client(created["name"], created["secret"])
    refused = as_robot.post("/api/v2.0/projects", {"project_name": "botmade"}, format="json")
    assert_harbor_error(refused, 403)


def test_a_project_name_taken_again_does_not_inherit_old_grants(world, admin, client_for):
    body = {
        "name": "fleet",
        "level": "system",
        "duration": -1,
        "permissions": [
            {"kind": "project", "namespace": "other", "access": access("repository:pull")},
            {"kind": "project", "namespace": "granted", "access": access("repository:pull")},
        ],
    }
    created = create(client_for(admin), body)
    assert client_for(admin).delete("/api/v2.0/projects/other").status_code == 200
    robot = Robot.objects.get(pk=created["id"])
    assert [p["namespace"] for p in robot.permissions] == ["granted"]
    client_for(admin).post("/api/v2.0/projects", {"project_name": "other"}, format="json")
    auth = basic(created["name"], created["secret"])
    claims = payload(get_token(Client(), "repository:other/x:pull", auth=auth).json()["token"])
    assert claims["access"] == []


def test_a_remembered_robot_login_is_one_redis_round_trip(world, monkeypatch, redis_commands):
    created = create(world["owner_client"], project_robot("granted"))
    name, secret = created["name"], created["secret"]
    with configuration.per_request():
        assert authenticate_credentials(name, secret, address="10.0.0.1") is not None
    redis_commands.clear()
    monkeypatch.setattr(credentials, "check_password", lambda *args: False)  # hits only
    with configuration.per_request():
        robot = authenticate_credentials(name, secret, address="10.0.0.1")
    assert robot is not None and robot.username == name
    assert redis_commands == ["MGET"]
