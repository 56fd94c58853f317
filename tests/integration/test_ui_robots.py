"""Robot accounts in the web UI: a project's tab and the system page, with the permission
checks of /robots (non-members 404, roles without robot:create 403), CSRF, the secret
shown once after create and refresh, disable/enable and delete with confirmation."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from accounts.models import Robot
from audit.models import AuditLog
from projects.roles import Role

pytestmark = pytest.mark.django_db
SECRET = re.compile(r'<code id="robot-secret">([A-Za-z0-9]+)</code>')


def signed(user, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def robot_form(name: str = "ci", *permissions: str, **extra: str) -> dict:
    return {
        "name": name,
        "permissions": list(permissions or ("repository:pull", "repository:push")),
        **extra,
    }


def shown_secret(response) -> str:
    """The secret on the page the create/refresh POST redirects to (read once)."""
    assert response.status_code == 302, response.content.decode()[:2000]
    response = response.client.get(response["Location"])
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    found = SECRET.search(response.content.decode())
    assert found, response.content.decode()[:2000]
    return found[1]


@pytest.fixture
def team(make_user, make_project):
    users = {role: make_user(role.name.lower()) for role in Role if role != Role.PROJECT_ADMIN}
    owner = make_user("owner")
    project = make_project("team", owner=owner, members={u: r for r, u in users.items()})
    return {"owner": owner, "project": project, **{role: user for role, user in users.items()}}


def test_tab_follows_the_api_permissions(team, make_user, make_project):
    make_project("secret")
    outsider = signed(make_user("outsider"))
    assert outsider.get("/projects/secret/robots").status_code == 404
    assert outsider.post("/projects/secret/robots", robot_form()).status_code == 404
    assert signed(team[Role.LIMITED_GUEST]).get("/projects/team/robots").status_code == 403
    guest = signed(team[Role.GUEST])
    listing = guest.get("/projects/team/robots")
    assert listing.status_code == 200
    assert "New robot account" not in listing.content.decode()
    assert guest.post("/projects/team/robots", robot_form()).status_code == 403
    maintainer = signed(team[Role.MAINTAINER])  # robot: read and list only, as the API
    assert maintainer.post("/projects/team/robots", robot_form()).status_code == 403
    assert not Robot.objects.exists()
    owner_tabs = signed(team["owner"]).get("/projects/team/repositories").content.decode()
    assert 'href="/projects/team/robots"' in owner_tabs


def test_create_shows_the_secret_once(team):
    client = signed(team["owner"])
    form = client.get("/projects/team/robots").content.decode()
    assert 'value="repository:push"' in form and 'value="immutable-tag:create"' in form
    created = client.post(
        "/projects/team/robots",
        robot_form("ci", "repository:pull", "repository:push", never_expires="on"),
    )
    assert created.status_code == 302  # post/redirect/get: a reload sends nothing again
    secret_page = created["Location"]
    secret = shown_secret(created)
    again = client.get(secret_page)  # reload, Back, history: the secret is not shown again
    assert again.status_code == 410 and secret not in again.content.decode()
    assert "refresh the robot" in again.content.decode()
    robot = Robot.objects.get(name="robot$team+ci")
    assert check_password(secret, robot.secret)
    assert robot.expires_at == -1 and robot.project == team["project"]
    assert robot.permissions == [
        {
            "kind": "project",
            "namespace": "team",
            "access": [
                {"resource": "repository", "action": "pull", "effect": "allow"},
                {"resource": "repository", "action": "push", "effect": "allow"},
            ],
        }
    ]
    listing = client.get("/projects/team/robots").content.decode()
    assert "robot$team+ci" in listing and secret not in listing
    assert "Never" in listing
    assert AuditLog.objects.filter(resource="robot$team+ci", operation="create").exists()


def test_create_errors_and_expiry(team):
    client = signed(team["owner"])
    nothing = client.post("/projects/team/robots", {"name": "ci"})
    assert (
        nothing.status_code == 400
        and "Choose at least one permission or a preset." in nothing.content.decode()
    )
    bad_name = client.post("/projects/team/robots", robot_form("Bad Name"))
    assert "A robot name is lower-case" in bad_name.content.decode()
    forged = client.post("/projects/team/robots", robot_form("ci", "user:create"))
    assert forged.status_code == 400 and "Select a valid choice" in forged.content.decode()
    client.post("/projects/team/robots", robot_form("ci", duration="7"))
    robot = Robot.objects.get(name="robot$team+ci")
    assert robot.duration == 7 and robot.expires_at > 0
    dup = client.post("/projects/team/robots", robot_form("ci"))
    assert "already exists" in dup.content.decode()
    assert Robot.objects.count() == 1


def test_csrf_is_required(team):
    client = signed(team["owner"], csrf=True)
    assert client.post("/projects/team/robots", robot_form()).status_code == 403
    page = client.get("/projects/team/robots")
    token = page.cookies["__csrf"].value
    created = client.post("/projects/team/robots", {**robot_form(), "csrfmiddlewaretoken": token})
    assert created.status_code == 302 and Robot.objects.filter(name="robot$team+ci").exists()


def test_disable_refresh_and_delete(team, make_project):
    client = signed(team["owner"])
    first = shown_secret(client.post("/projects/team/robots", robot_form()))
    robot = Robot.objects.get()
    base = f"/projects/team/robots/{robot.pk}"
    guest = signed(team[Role.GUEST])
    assert guest.post(f"{base}/toggle").status_code == 403
    assert guest.get(f"{base}/secret").status_code == 403
    assert guest.post(f"{base}/delete").status_code == 403
    other = make_project("other", owner=team["owner"])
    assert client.post(f"/projects/{other.name}/robots/{robot.pk}/toggle").status_code == 404

    client.post(f"{base}/toggle")
    robot.refresh_from_db()
    assert robot.disabled
    assert "Disabled" in client.get("/projects/team/robots").content.decode()
    client.post(f"{base}/toggle")
    robot.refresh_from_db()
    assert not robot.disabled

    question = client.get(f"{base}/secret").content.decode()
    assert "Refresh the secret of robot$team+ci?" in question and "Yes, refresh" in question
    robot.refresh_from_db()
    assert check_password(first, robot.secret)  # the confirmation changes nothing
    second = shown_secret(client.post(f"{base}/secret"))
    robot.refresh_from_db()
    assert second != first and check_password(second, robot.secret)
    assert not check_password(first, robot.secret)

    assert "Delete robot account robot$team+ci?" in client.get(f"{base}/delete").content.decode()
    assert Robot.objects.filter(pk=robot.pk).exists()
    client.post(f"{base}/delete")
    assert not Robot.objects.filter(pk=robot.pk).exists()


def test_system_robots_page(admin, make_user, make_project):
    make_project("alpha", owner=admin)
    make_project("beta", owner=admin)
    assert signed(make_user("alice")).get("/admin/robots").status_code == 403
    client = signed(admin)
    page = client.get("/admin/robots").content.decode()
    assert 'value="garbage-collection:create"' in page and 'value="repository:pull"' in page
    missing = client.post("/admin/robots", {"name": "sync", "permissions": ["repository:pull"]})
    assert "Name the projects, or choose All projects." in missing.content.decode()
    unknown = client.post(
        "/admin/robots",
        {"name": "sync", "permissions": ["repository:pull"], "projects": "alpha, nope"},
    )
    assert "Project nope not found." in unknown.content.decode()
    spanning = client.post(
        "/admin/robots",
        {"name": "sync", "permissions": ["repository:pull"], "projects": "alpha, beta"},
    )
    assert shown_secret(spanning)
    robot = Robot.objects.get(name="robot$sync")
    assert robot.level == "system" and robot.project is None
    assert [p["namespace"] for p in robot.permissions] == ["alpha", "beta"]
    everywhere = client.post(
        "/admin/robots",
        {
            "name": "ops",
            "permissions": ["repository:pull"],
            "all_projects": "on",
            "system_permissions": ["garbage-collection:read"],
        },
    )
    assert shown_secret(everywhere)
    ops = Robot.objects.get(name="robot$ops")
    assert {(p["kind"], p["namespace"]) for p in ops.permissions} == {
        ("system", "/"),
        ("project", "*"),
    }
    listing = client.get("/admin/robots?q=op").content.decode()
    assert "robot$ops" in listing and "robot$sync" not in listing and "All projects" in listing
    client.post(f"/admin/robots/{ops.pk}/toggle")
    ops.refresh_from_db()
    assert ops.disabled
    assert shown_secret(client.post(f"/admin/robots/{ops.pk}/secret"))
    client.post(f"/admin/robots/{ops.pk}/delete")
    assert not Robot.objects.filter(pk=ops.pk).exists()


def test_project_robots_are_not_managed_on_the_system_page(admin, make_project):
    make_project("team", owner=admin)
    client = signed(admin)
    client.post("/projects/team/robots", robot_form())
    robot = Robot.objects.get()
    assert client.post(f"/admin/robots/{robot.pk}/delete").status_code == 404
    assert "robot$team+ci" not in client.get("/admin/robots").content.decode()


def test_every_robot_action_needs_the_csrf_token(admin, make_project):
    make_project("team", owner=admin)
    signed(admin).post("/projects/team/robots", robot_form())
    robot = Robot.objects.get()
    client = signed(admin, csrf=True)
    for url in (
        f"/projects/team/robots/{robot.pk}/toggle",
        f"/projects/team/robots/{robot.pk}/secret",
        f"/projects/team/robots/{robot.pk}/delete",
        "/admin/robots",
    ):
        assert client.post(url, {"name": "x", "permissions": ["repository:pull"]}).status_code == (
            403
        ), url
    stored = Robot.objects.get()
    assert (stored.disabled, stored.secret) == (robot.disabled, robot.secret)
    assert Robot.objects.count() == 1


def test_edit_a_project_robot(team):
    client = signed(team["owner"])
    client.post("/projects/team/robots", robot_form("ci", "repository:pull", never_expires="on"))
    robot = Robot.objects.get()
    client.post(f"/projects/team/robots/{robot.pk}/toggle")  # disabled stays disabled
    edit = f"/projects/team/robots/{robot.pk}/edit"
    assert signed(team[Role.GUEST]).get(edit).status_code == 403
    page = client.get(edit).content.decode()
    assert 'value="robot$team+ci"' in page and "disabled" in page
    assert 'value="repository:pull" id="id_permissions_' in page
    assert page.count("checked") >= 2  # never expires, repository:pull
    saved = client.post(
        edit,
        {
            "name": "renamed",  # a disabled field: the name cannot change
            "description": "CI pipeline",
            "duration": "10",
            "permissions": ["repository:pull", "repository:push", "artifact:read"],
        },
    )
    assert saved.status_code == 302
    robot.refresh_from_db()
    assert robot.name == "robot$team+ci" and robot.description == "CI pipeline"
    assert robot.duration == 10 and robot.disabled
    assert [a["action"] for a in robot.permissions[0]["access"]] == ["pull", "push", "read"]
    assert AuditLog.objects.filter(resource=robot.name, operation="update").count() == 2
    empty = client.post(edit, {"description": "x"})
    assert (
        empty.status_code == 400
        and "Choose at least one permission or a preset." in empty.content.decode()
    )


def test_edit_a_system_robot(admin, make_project):
    make_project("alpha", owner=admin)
    make_project("beta", owner=admin)
    client = signed(admin)
    client.post(
        "/admin/robots",
        {"name": "sync", "permissions": ["repository:pull"], "projects": "alpha"},
    )
    robot = Robot.objects.get()
    page = client.get(f"/admin/robots/{robot.pk}/edit").content.decode()
    assert 'value="alpha"' in page
    client.post(
        f"/admin/robots/{robot.pk}/edit",
        {
            "permissions": ["repository:pull"],
            "projects": "alpha, beta",
            "system_permissions": ["audit-log:list"],
            "never_expires": "on",
        },
    )
    robot.refresh_from_db()
    assert [(p["kind"], p["namespace"]) for p in robot.permissions] == [
        ("system", "/"),
        ("project", "alpha"),
        ("project", "beta"),
    ]
    assert robot.duration == -1 and not robot.disabled
