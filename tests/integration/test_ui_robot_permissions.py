"""The robot forms' permissions (#28): a matrix with presets, and nothing offered for
features this server does not have (scanning, SBOM, webhooks, retention, preheat)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import robot_services
from accounts.models import Robot
from accounts.robot_services import RobotSpec
from harbor_py.core.actor import Actor
from projects.permissions import UNSERVED_RESOURCES

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner(make_user, make_project):
    user = make_user("owner")
    make_project("team", owner=user)
    return user


def access_of(robot: Robot, kind: str = "project") -> list[str]:
    permission = next(p for p in robot.permissions if p["kind"] == kind)
    return sorted(f"{a['resource']}:{a['action']}" for a in permission["access"])


def test_scanning_and_retention_are_offered_to_robots(owner):
    page = signed(owner).get("/projects/team/robots").content.decode()
    for value in ("scan:create", "scan:read", "scanner:read", "tag-retention:list"):
        assert f'value="{value}"' in page, value


def test_features_we_lack_are_not_offered(owner, admin):
    project_page = signed(owner).get("/projects/team/robots").content.decode()
    system_page = signed(admin).get("/admin/robots").content.decode()
    for page in (project_page, system_page):
        assert 'value="repository:pull"' in page and 'data-select-row="repository"' in page
        assert 'data-select-col="pull"' in page and 'name="preset"' in page
        for resource in UNSERVED_RESOURCES:
            assert f'value="{resource}:' not in page, resource
    assert 'value="registry:create"' in system_page  # system permissions: a matrix too
    forged = signed(owner).post(
        "/projects/team/robots", {"name": "ci", "permissions": ["preheat-policy:create"]}
    )
    assert forged.status_code == 400 and "Select a valid choice" in forged.content.decode()
    assert not Robot.objects.exists()


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("pull", ["artifact:list", "artifact:read", "repository:list", "repository:pull",
                  "repository:read", "tag:list"]),
        ("push-pull", ["artifact:create", "artifact:list", "artifact:read", "repository:list",
                       "repository:pull", "repository:push", "repository:read", "tag:create",
                       "tag:list"]),
    ],
)  # fmt: skip
def test_a_preset_works_without_script(owner, preset, expected):
    """The preset's permissions are added to the boxes checked (here: label:read)."""
    response = signed(owner).post(
        "/projects/team/robots", {"name": "ci", "preset": preset, "permissions": ["label:read"]}
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert access_of(Robot.objects.get()) == sorted([*expected, "label:read"])


def test_all_is_every_permission_offered(owner):
    response = signed(owner).post("/projects/team/robots", {"name": "ci", "preset": "all"})
    assert response.status_code == 302
    granted = access_of(Robot.objects.get())
    assert "immutable-tag:create" in granted and "repository:push" in granted
    assert not [p for p in granted if p.split(":")[0] in UNSERVED_RESOURCES]


def test_an_edit_keeps_permissions_of_features_we_lack(owner):
    """A robot made through the API may hold preheat-policy:create; the form does not show it and
    saving the form does not drop it."""
    access = [
        {"resource": "repository", "action": "pull"},
        {"resource": "preheat-policy", "action": "create"},
    ]
    robot, _secret = robot_services.create_robot(
        caller=owner,
        actor=Actor.of_user(owner),
        spec=RobotSpec(
            name="api",
            level="project",
            duration=-1,
            permissions=({"kind": "project", "namespace": "team", "access": access},),
        ),
    )
    edit = f"/projects/team/robots/{robot.pk}/edit"
    assert 'value="preheat-policy:create"' not in signed(owner).get(edit).content.decode()
    saved = signed(owner).post(edit, {"permissions": ["repository:pull", "repository:push"]})
    assert saved.status_code == 302, saved.content.decode()[-3000:]
    robot.refresh_from_db()
    assert access_of(robot) == ["preheat-policy:create", "repository:pull", "repository:push"]
