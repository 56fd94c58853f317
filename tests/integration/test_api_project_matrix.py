"""Role x operation: every project-scoped operation of the project, projectMetadata and
member groups, for the five roles, a non-member, an anonymous caller and a sysadmin, on a
private and on a public project. Private projects are invisible (404) to outsiders;
public ones answer 401 to anonymous and 403 to signed-in callers without the right."""

from __future__ import annotations

import pytest

from projects.models import Project, ProjectMember
from projects.roles import Role
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

ADMIN, MAINT, DEV, GUEST, LIMITED = "admin", "maintainer", "developer", "guest", "limited"
ROLES = {
    ADMIN: Role.PROJECT_ADMIN,
    MAINT: Role.MAINTAINER,
    DEV: Role.DEVELOPER,
    GUEST: Role.GUEST,
    LIMITED: Role.LIMITED_GUEST,
}
EVERY_ROLE = set(ROLES)
CALLERS = [*ROLES, "outsider", "anonymous", "sysadmin"]

# operation id -> (method, path under /api/v2.0/projects/{p}, body, roles allowed, success,
#                  allowed on a public project for anyone)
OPERATIONS = {
    "getProject": ("get", "", None, EVERY_ROLE, 200, True),
    "updateProject": ("put", "", {"metadata": {"auto_scan": "true"}}, {ADMIN}, 200, False),
    "deleteProject": ("delete", "", None, {ADMIN}, 200, False),
    "getProjectDeletable": ("get", "/_deletable", None, {ADMIN}, 200, False),
    "getProjectSummary": ("get", "/summary", None, EVERY_ROLE, 200, True),
    "listProjectMetadatas": ("get", "/metadatas/", None, {ADMIN, MAINT}, 200, False),
    "addProjectMetadatas": ("post", "/metadatas/", {"auto_scan": "true"}, {ADMIN}, 200, False),
    "getProjectMetadata": ("get", "/metadatas/public", None, {ADMIN, MAINT}, 200, False),
    "updateProjectMetadata": (
        "put",
        "/metadatas/severity",
        {"severity": "high"},
        {ADMIN},
        200,
        False,
    ),
    "deleteProjectMetadata": ("delete", "/metadatas/severity", None, {ADMIN}, 200, False),
    "listProjectMembers": ("get", "/members", None, {ADMIN, MAINT, DEV, GUEST}, 200, False),
    "createProjectMember": (
        "post",
        "/members",
        {"role_id": 3, "member_user": {"username": "newcomer"}},
        {ADMIN},
        201,
        False,
    ),
    "getProjectMember": ("get", "/members/{mid}", None, {ADMIN, MAINT, DEV, GUEST}, 200, False),
    "updateProjectMember": ("put", "/members/{mid}", {"role_id": 4}, {ADMIN}, 200, False),
    "deleteProjectMember": ("delete", "/members/{mid}", None, {ADMIN}, 200, False),
}


@pytest.fixture
def world(make_user, make_project, client_for, anon_client):
    users = {name: make_user(f"{name}-user") for name in ROLES}
    make_user("newcomer")
    target = make_user("target")

    def build(public: bool) -> dict:
        project = make_project(
            "demo",
            public=public,
            owner=users[ADMIN],
            members={users[name]: role for name, role in ROLES.items() if name != ADMIN},
        )
        project.metadata = {"severity": "low"}
        project.save()
        member = ProjectMember.objects.create(project=project, user=target, role=Role.DEVELOPER)
        clients = {name: client_for(user) for name, user in users.items()}
        clients["outsider"] = client_for(make_user("outsider"))
        clients["anonymous"] = anon_client
        clients["sysadmin"] = client_for(make_user("root", sysadmin=True))
        return {"project": project, "member": member, "clients": clients}

    return build


def expected(operation: str, caller: str, public: bool) -> int:
    _, _, _, allowed, success, public_ok = OPERATIONS[operation]
    if caller == "sysadmin" or caller in allowed:
        return success
    if caller in ROLES:
        return 403
    if not public:
        return 404
    if public_ok:
        return success
    return 401 if caller == "anonymous" else 403


@pytest.mark.parametrize("public", [False, True], ids=["private", "public"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_role_matrix(world, operation, caller, public):
    setup = world(public)
    method, suffix, body, _, _, _ = OPERATIONS[operation]
    url = "/api/v2.0/projects/demo" + suffix.format(mid=setup["member"].pk)
    client = setup["clients"][caller]
    response = getattr(client, method)(url, body, format="json") if body else None
    if response is None:
        response = getattr(client, method)(url)
    status = expected(operation, caller, public)
    check(operation, response, status)
    if status >= 400:  # nothing changed
        project = Project.objects.get(pk=setup["project"].pk)
        assert project.metadata == {"severity": "low"}
        assert project.public is public
        assert ProjectMember.objects.filter(pk=setup["member"].pk, role=Role.DEVELOPER).exists()
        assert not ProjectMember.objects.filter(user__username="newcomer").exists()
