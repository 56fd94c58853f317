"""/api/v2.0/projects/{project_name_or_id}/members/{mid}, and the list and create
operations against Harbor's contract."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db


def url(mid: int | str = "", project: str = "demo") -> str:
    base = f"/api/v2.0/projects/{project}/members"
    return f"{base}/{mid}" if mid != "" else base


@pytest.fixture
def team(make_user, make_project, make_group):
    owner, dev, bob = make_user("owner"), make_user("dev"), make_user("bob")
    project = make_project("demo", owner=owner, members={dev: Role.DEVELOPER})
    group = make_group("devs")
    group_member = ProjectMember.objects.create(project=project, group=group, role=Role.GUEST)
    return {
        "owner": owner,
        "dev": dev,
        "bob": bob,
        "project": project,
        "group": group,
        "dev_member": ProjectMember.objects.get(project=project, user=dev),
        "group_member": group_member,
    }


def test_list_and_create_match_contract(client_for, team):
    owner = client_for(team["owner"])
    body = check("listProjectMembers", owner.get(url()), 200)
    assert {m["entity_name"] for m in body} == {"owner", "dev", "devs"}
    response = owner.post(url(), {"role_id": 2, "member_user": {"username": "bob"}}, format="json")
    check("createProjectMember", response, 201)
    again = owner.post(url(), {"role_id": 2, "member_user": {"username": "bob"}}, format="json")
    check("createProjectMember", again, 409, "CONFLICT")
    check("createProjectMember", owner.post(url(), {"role_id": 9}, format="json"), 400)
    check("listProjectMembers", owner.get(url(), {"page": "x"}), 400, "BAD_REQUEST")
    check("listProjectMembers", client_for(team["bob"]).get(url(project="x")), 404)


def test_create_group_member_by_name(client_for, team, make_group):
    make_group("ops")
    body = {"role_id": 3, "member_group": {"group_name": "ops"}}
    check("createProjectMember", client_for(team["owner"]).post(url(), body, format="json"), 201)
    assert ProjectMember.objects.filter(group__group_name="ops", role=3).exists()


def test_get_member(client_for, team):
    member = team["dev_member"]
    body = check("getProjectMember", client_for(team["dev"]).get(url(member.pk)), 200)
    assert body == {
        "id": member.pk,
        "project_id": team["project"].pk,
        "entity_name": "dev",
        "role_name": "developer",
        "role_id": 2,
        "entity_id": team["dev"].pk,
        "entity_type": "u",
    }
    group = check(
        "getProjectMember", client_for(team["dev"]).get(url(team["group_member"].pk)), 200
    )
    assert (group["entity_type"], group["entity_id"]) == ("g", team["group"].pk)


def test_member_of_another_project_is_404(client_for, team, make_project):
    other = make_project("other", owner=team["owner"])
    foreign = ProjectMember.objects.get(project=other)
    client = client_for(team["owner"])
    check("getProjectMember", client.get(url(foreign.pk)), 404, "NOT_FOUND")
    check("updateProjectMember", client.put(url(foreign.pk), {"role_id": 2}, format="json"), 404)
    check("deleteProjectMember", client.delete(url(foreign.pk)), 404, "NOT_FOUND")
    assert ProjectMember.objects.get(pk=foreign.pk).role == Role.PROJECT_ADMIN


def test_missing_and_zero_ids(client_for, team):
    client = client_for(team["owner"])
    check("getProjectMember", client.get(url(999999)), 404, "NOT_FOUND")
    check("getProjectMember", client.get(url(0)), 400, "BAD_REQUEST")
    assert client.get(url("abc")).status_code == 404


def test_update_role(client_for, team):
    member = team["dev_member"]
    response = client_for(team["owner"]).put(url(member.pk), {"role_id": 4}, format="json")
    check("updateProjectMember", response, 200)
    member.refresh_from_db()
    assert member.role == Role.MAINTAINER
    entry = AuditLog.objects.get(resource_type="project_member", operation="update")
    assert (entry.resource, entry.username) == ("demo:dev", "owner")
    assert entry.project_id == team["project"].pk
    assert "maintainer" in entry.description


def test_update_group_member_role(client_for, team):
    member = team["group_member"]
    check(
        "updateProjectMember",
        client_for(team["owner"]).put(url(member.pk), {"role_id": 5}, format="json"),
        200,
    )
    member.refresh_from_db()
    assert member.role == Role.LIMITED_GUEST


@pytest.mark.parametrize("body", [{}, {"role_id": 0}, {"role_id": 6}, {"role_id": "admin"}])
def test_update_bad_role_is_400(client_for, team, body):
    member = team["dev_member"]
    response = client_for(team["owner"]).put(url(member.pk), body, format="json")
    check("updateProjectMember", response, 400, "BAD_REQUEST")
    member.refresh_from_db()
    assert member.role == Role.DEVELOPER


def test_role_change_takes_effect(client_for, team):
    dev = client_for(team["dev"])
    check("getProjectMember", dev.get(url(team["dev_member"].pk)), 200)
    client_for(team["owner"]).put(url(team["dev_member"].pk), {"role_id": 5}, format="json")
    check("getProjectMember", dev.get(url(team["dev_member"].pk)), 403, "FORBIDDEN")


def test_delete_member(client_for, team):
    member = team["dev_member"]
    check("deleteProjectMember", client_for(team["owner"]).delete(url(member.pk)), 200)
    assert not ProjectMember.objects.filter(pk=member.pk).exists()
    entry = AuditLog.objects.get(resource_type="project_member", operation="delete")
    assert entry.resource == "demo:dev"
    # the former member no longer sees the private project
    check("getProject", client_for(team["dev"]).get("/api/v2.0/projects/demo"), 404)
    check("deleteProjectMember", client_for(team["owner"]).delete(url(member.pk)), 404)


def test_member_list_query_count_does_not_grow(
    client_for, team, make_user, django_assert_max_num_queries
):
    client = client_for(team["owner"])
    client.get(url())
    with django_assert_max_num_queries(10) as small:
        assert len(client.get(url(), {"page_size": 100}).json()) == 3
    for i in range(30):
        ProjectMember.objects.create(project=team["project"], user=make_user(f"m{i}"), role=3)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(url(), {"page_size": 100}).json()) == 33
