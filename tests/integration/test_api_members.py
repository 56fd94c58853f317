"""/api/v2.0/projects/{project_name_or_id}/members."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


def url(project: str = "demo") -> str:
    return f"/api/v2.0/projects/{project}/members"


def by_name(role_id: int, username: str) -> dict:
    return {"role_id": role_id, "member_user": {"username": username}}


def test_project_admin_adds_member(client_for, team):
    response = client_for(team["owner"]).post(url(), by_name(2, "bob"), format="json")
    assert response.status_code == 201, response.content
    member = ProjectMember.objects.get(project=team["project"], user=team["bob"])
    assert member.role == Role.DEVELOPER
    assert response["Location"] == f"/api/v2.0/projects/{team['project'].pk}/members/{member.pk}"
    assert AuditLog.objects.filter(
        resource_type="project_member", resource="demo:bob", username="owner"
    ).exists()


def test_add_member_by_user_id_and_project_id(client_for, team):
    response = client_for(team["owner"]).post(
        url(str(team["project"].pk)),
        {"role_id": 3, "member_user": {"user_id": team["bob"].pk}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert ProjectMember.objects.get(project=team["project"], user=team["bob"]).role == 3


def test_new_member_gets_access(client_for, team):
    bob = client_for(team["bob"])
    assert bob.get("/api/v2.0/projects/demo").status_code == 404
    client_for(team["owner"]).post(url(), by_name(3, "bob"), format="json")
    assert bob.get("/api/v2.0/projects/demo").json()["current_user_role_id"] == 3


def test_sysadmin_adds_member_without_being_one(admin, client_for, team):
    response = client_for(admin).post(url(), by_name(4, "bob"), format="json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("who", ["dev", "guest", "maint", "limited"])
def test_only_project_admin_may_add(client_for, team, who):
    response = client_for(team[who]).post(url(), by_name(2, "bob"), format="json")
    assert_harbor_error(response, 403, "FORBIDDEN")
    assert not ProjectMember.objects.filter(user=team["bob"]).exists()


def test_outsider_gets_404_on_private_project(client_for, team):
    assert_harbor_error(
        client_for(team["bob"]).post(url(), by_name(1, "bob"), format="json"), 404, "NOT_FOUND"
    )
    assert_harbor_error(client_for(team["bob"]).get(url()), 404, "NOT_FOUND")
    assert not ProjectMember.objects.filter(user=team["bob"]).exists()


def test_anonymous_on_private_project_is_404(anon_client, team):
    assert_harbor_error(anon_client.get(url()), 404, "NOT_FOUND")
    assert_harbor_error(anon_client.post(url(), by_name(1, "bob"), format="json"), 404, "NOT_FOUND")


def test_members_of_public_project_need_membership_to_list(
    anon_client, client_for, make_project, make_user
):
    make_project("open", public=True)
    assert_harbor_error(anon_client.get(url("open")), 401, "UNAUTHORIZED")
    assert_harbor_error(client_for(make_user()).get(url("open")), 403, "FORBIDDEN")


def test_missing_project_is_404(admin, client_for):
    assert_harbor_error(client_for(admin).get(url("ghost")), 404, "NOT_FOUND")


@pytest.mark.parametrize("role_id", [0, 6, -1, 99])
def test_invalid_role_is_400(client_for, team, role_id):
    response = client_for(team["owner"]).post(url(), by_name(role_id, "bob"), format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert not ProjectMember.objects.filter(user=team["bob"]).exists()


def test_non_integer_role_is_400(client_for, team):
    response = client_for(team["owner"]).post(url(), by_name("admin", "bob"), format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")


def test_unknown_user_is_404(client_for, team):
    owner = client_for(team["owner"])
    assert_harbor_error(owner.post(url(), by_name(2, "nobody"), format="json"), 404, "NOT_FOUND")
    response = owner.post(url(), {"role_id": 2, "member_user": {"user_id": 999999}}, format="json")
    assert_harbor_error(response, 404, "NOT_FOUND")


def test_inactive_user_cannot_be_added(client_for, team, make_user):
    make_user("gone", active=False)
    response = client_for(team["owner"]).post(url(), by_name(2, "gone"), format="json")
    assert_harbor_error(response, 404, "NOT_FOUND")


def test_duplicate_member_is_409(client_for, team):
    owner = client_for(team["owner"])
    assert_harbor_error(owner.post(url(), by_name(3, "dev"), format="json"), 409, "CONFLICT")
    assert ProjectMember.objects.get(project=team["project"], user=team["dev"]).role == 2


@pytest.mark.parametrize(
    "body",
    [
        {"role_id": 2},
        {"role_id": 2, "member_user": {}},
        {"role_id": 2, "member_group": {}},
        {"member_user": {"username": "bob"}},
    ],
)
def test_incomplete_member_request_is_400(client_for, team, body):
    response = client_for(team["owner"]).post(url(), body, format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")


def test_group_member(client_for, team, make_group, make_user):
    group = make_group("devs")
    response = client_for(team["owner"]).post(
        url(), {"role_id": 2, "member_group": {"id": group.pk}}, format="json"
    )
    assert response.status_code == 201, response.content
    listed = client_for(team["owner"]).get(url(), {"entityname": "devs"}).json()
    assert listed == [
        {
            "id": ProjectMember.objects.get(group=group).pk,
            "project_id": team["project"].pk,
            "entity_name": "devs",
            "role_name": "developer",
            "role_id": 2,
            "entity_id": group.pk,
            "entity_type": "g",
        }
    ]
    duplicate = client_for(team["owner"]).post(
        url(),
        {"role_id": 3, "member_group": {"ldap_group_dn": group.ldap_group_dn}},
        format="json",
    )
    assert_harbor_error(duplicate, 409, "CONFLICT")
    missing = client_for(team["owner"]).post(
        url(), {"role_id": 3, "member_group": {"id": 999999}}, format="json"
    )
    assert_harbor_error(missing, 404, "NOT_FOUND")


def test_list_members(client_for, team):
    response = client_for(team["guest"]).get(url())
    assert response.status_code == 200
    assert response["X-Total-Count"] == "5"
    members = {m["entity_name"]: m for m in response.json()}
    assert {n: (m["role_id"], m["role_name"]) for n, m in members.items()} == {
        "owner": (1, "projectAdmin"),
        "dev": (2, "developer"),
        "guest": (3, "guest"),
        "maint": (4, "maintainer"),
        "limited": (5, "limitedGuest"),
    }
    for name, member in members.items():
        assert member["entity_type"] == "u"
        assert member["entity_id"] == team[name].pk
        assert member["project_id"] == team["project"].pk


@pytest.mark.parametrize("who", ["owner", "maint", "dev", "guest"])
def test_roles_that_may_list_members(client_for, team, who):
    assert client_for(team[who]).get(url()).status_code == 200


def test_limited_guest_may_not_list_members(client_for, team):
    assert_harbor_error(client_for(team["limited"]).get(url()), 403, "FORBIDDEN")


def test_entityname_filter(client_for, team, make_user):
    owner = client_for(team["owner"])
    make_user("bobby")
    owner.post(url(), by_name(3, "bob"), format="json")
    owner.post(url(), by_name(3, "bobby"), format="json")
    assert sorted(m["entity_name"] for m in owner.get(url(), {"entityname": "bob"}).json()) == [
        "bob",
        "bobby",
    ]
    assert [m["entity_name"] for m in owner.get(url(), {"entityname": "bobby"}).json()] == ["bobby"]
    assert [m["entity_name"] for m in owner.get(url(), {"entityname": "lim"}).json()] == ["limited"]
    assert owner.get(url(), {"entityname": "zzz"}).json() == []


def test_member_list_pagination(client_for, team):
    response = client_for(team["owner"]).get(url(), {"page_size": 2, "page": 3})
    assert len(response.json()) == 1
    assert response["X-Total-Count"] == "5"
    assert 'rel="prev"' in response["Link"]
    assert 'rel="next"' not in response["Link"]
