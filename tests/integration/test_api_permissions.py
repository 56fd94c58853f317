"""GET /permissions and GET /users/current/permissions."""

from __future__ import annotations

import pytest

from projects.roles import Role
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

CURRENT = "/api/v2.0/users/current/permissions"


def pairs(body: list[dict]) -> set[tuple[str, str]]:
    return {(p["resource"], p["action"]) for p in body}


# --- GET /permissions ----------------------------------------------------------------------------


def test_sysadmin_sees_system_and_project_permissions(admin, client_for):
    body = check("getPermissions", client_for(admin).get("/api/v2.0/permissions"), 200)
    assert set(body) == {"system", "project"}
    assert ("project", "create") in pairs(body["system"])
    assert ("catalog", "read") in pairs(body["system"])
    assert ("repository", "push") in pairs(body["project"])
    assert ("metadata", "list") in pairs(body["project"])


def test_project_admin_sees_project_permissions(make_user, make_project, make_group, client_for):
    owner = make_user()
    make_project("demo", owner=owner)
    body = check("getPermissions", client_for(owner).get("/api/v2.0/permissions"), 200)
    assert set(body) == {"project"}
    via_group = make_user()
    group = make_group()
    via_group.user_groups.add(group)
    make_project("other").members.create(group=group, role=Role.PROJECT_ADMIN)
    check("getPermissions", client_for(via_group).get("/api/v2.0/permissions"), 200)


def test_others_are_refused(make_user, make_project, client_for, anon_client):
    developer = make_user()
    make_project("demo", members={developer: Role.DEVELOPER})
    check("getPermissions", client_for(developer).get("/api/v2.0/permissions"), 403, "FORBIDDEN")
    check("getPermissions", anon_client.get("/api/v2.0/permissions"), 401, "UNAUTHORIZED")


# --- GET /users/current/permissions --------------------------------------------------------------


@pytest.fixture
def project(make_project):
    return make_project("demo")


def current(client, **params) -> list[dict]:
    return check("getCurrentUserPermissions", client.get(CURRENT, params), 200)


def test_guest_permissions_in_project(make_user, project, client_for):
    guest = make_user()
    project.members.create(user=guest, role=Role.GUEST)
    scope = f"/project/{project.pk}"
    body = pairs(current(client_for(guest), scope=scope))
    assert (scope, "read") in body
    assert (f"{scope}/repository", "pull") in body
    assert (f"{scope}/member", "list") in body
    assert (f"{scope}/repository", "push") not in body
    assert (scope, "delete") not in body
    relative = pairs(current(client_for(guest), scope=scope, relative="true"))
    assert (".", "read") in relative and ("repository", "pull") in relative
    assert ("repository", "push") not in relative


def test_project_admin_and_sysadmin_hold_everything(admin, project, client_for):
    scope = f"/project/{project.pk}"
    owner = client_for(project.owner)
    owner_perms = pairs(current(owner, scope=scope, relative="true"))
    assert {(".", "delete"), ("member", "create"), ("repository", "delete")} <= owner_perms
    admin_perms = pairs(current(client_for(admin), scope=scope, relative="true"))
    assert owner_perms <= admin_perms
    assert ("preheat-policy", "create") in admin_perms


def test_deeper_relative_scope(make_user, project, client_for):
    scope = f"/project/{project.pk}/repository"
    body = pairs(current(client_for(project.owner), scope=scope, relative="true"))
    assert body == {
        (".", a) for a in ("create", "read", "update", "delete", "list", "pull", "push")
    }


def test_outsider_on_public_project(make_user, make_project, client_for):
    public = make_project("open", public=True)
    scope = f"/project/{public.pk}"
    body = pairs(current(client_for(make_user()), scope=scope, relative="true"))
    assert ("repository", "pull") in body and (".", "read") in body
    assert ("repository", "push") not in body and ("member", "list") not in body


def test_outsider_on_private_project_has_nothing(make_user, project, client_for):
    assert current(client_for(make_user()), scope=f"/project/{project.pk}") == []


def test_system_scope(admin, make_user, client_for):
    body = pairs(current(client_for(admin), scope="/system", relative="true"))
    assert ("user", "create") in body and ("configuration", "update") in body
    full = pairs(current(client_for(admin), scope="/system"))
    assert ("/system/user", "create") in full
    assert current(client_for(make_user()), scope="/system") == []


@pytest.mark.parametrize("scope", ["", "/nowhere", "/project/abc", "/project/999999"])
def test_unknown_scopes_give_nothing(make_user, client_for, scope):
    assert current(client_for(make_user()), scope=scope) == []


def test_current_permissions_need_authentication(anon_client):
    check("getCurrentUserPermissions", anon_client.get(CURRENT), 401, "UNAUTHORIZED")
