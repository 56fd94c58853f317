"""/api/v2.0/usergroups (the usergroup group)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts.models import UserGroup
from audit.models import AuditLog
from harbor_py.core import configuration
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/usergroups"


def ldap(name: str, dn: str) -> dict:
    return {"group_name": name, "group_type": 1, "ldap_group_dn": dn}


@pytest.fixture
def groups(db):
    return {
        "devs": UserGroup.objects.create(group_name="devs", group_type=1, ldap_group_dn="cn=devs"),
        "ops": UserGroup.objects.create(group_name="ops", group_type=2),
        "oidc-devs": UserGroup.objects.create(group_name="oidc-devs", group_type=3),
    }


def test_create_ldap_group(admin, client_for):
    response = client_for(admin).post(URL, ldap("devs", " CN=Devs,DC=Example "), format="json")
    check("createUserGroup", response, 201)
    group = UserGroup.objects.get(group_name="devs")
    assert response["Location"] == f"{URL}/{group.pk}"
    assert (group.group_type, group.ldap_group_dn) == (1, "cn=devs,dc=example")
    assert AuditLog.objects.filter(resource_type="user_group", operation="create").exists()


@pytest.mark.parametrize("group_type", [2, 3])
def test_create_http_and_oidc_groups(admin, client_for, group_type):
    body = {"group_name": "team", "group_type": group_type, "ldap_group_dn": "ignored"}
    check("createUserGroup", client_for(admin).post(URL, body, format="json"), 201)
    group = UserGroup.objects.get(group_name="team")
    assert (group.group_type, group.ldap_group_dn) == (group_type, "")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"group_type": 1, "ldap_group_dn": "cn=x"},
        {"group_name": "x", "group_type": 1},
        {"group_name": "x", "group_type": 1, "ldap_group_dn": "  "},
        {"group_name": "x"},
        {"group_name": "x", "group_type": 4},
        {"group_name": "x", "group_type": "ldap"},
        {"group_name": "x" * 256, "group_type": 2},
    ],
)
def test_create_bad_group_is_400(admin, client_for, body):
    check("createUserGroup", client_for(admin).post(URL, body, format="json"), 400, "BAD_REQUEST")
    assert not UserGroup.objects.exists()


def test_duplicates_are_409(admin, client_for, groups):
    client = client_for(admin)
    check("createUserGroup", client.post(URL, ldap("other", "CN=devs"), format="json"), 409)
    body = {"group_name": "ops", "group_type": 2}
    check("createUserGroup", client.post(URL, body, format="json"), 409, "CONFLICT")
    # the same name is fine in another type, and LDAP groups are told apart by DN
    check(
        "createUserGroup",
        client.post(URL, {"group_name": "ops", "group_type": 3}, format="json"),
        201,
    )
    check("createUserGroup", client.post(URL, ldap("devs", "cn=devs2"), format="json"), 201)


def test_only_sysadmins_manage_groups(make_user, client_for, anon_client, groups):
    user = client_for(make_user())
    gid = groups["ops"].pk
    check("listUserGroups", user.get(URL), 403, "FORBIDDEN")
    check("listUserGroups", anon_client.get(URL), 401, "UNAUTHORIZED")
    check(
        "createUserGroup", user.post(URL, {"group_name": "x", "group_type": 2}, format="json"), 403
    )
    check(
        "createUserGroup",
        anon_client.post(URL, {"group_name": "x", "group_type": 2}, format="json"),
        401,
    )
    check("getUserGroup", user.get(f"{URL}/{gid}"), 403, "FORBIDDEN")
    check("updateUserGroup", user.put(f"{URL}/{gid}", {"group_name": "y"}, format="json"), 403)
    check("deleteUserGroup", user.delete(f"{URL}/{gid}"), 403, "FORBIDDEN")
    check("deleteUserGroup", anon_client.delete(f"{URL}/{gid}"), 401, "UNAUTHORIZED")
    assert UserGroup.objects.get(pk=gid).group_name == "ops"


def test_list_groups(admin, client_for, groups):
    client = client_for(admin)
    body = check("listUserGroups", client.get(URL), 200)
    assert [g["group_name"] for g in body] == ["devs", "ops", "oidc-devs"]
    assert body[0] == {
        "id": groups["devs"].pk,
        "group_name": "devs",
        "group_type": 1,
        "ldap_group_dn": "cn=devs",
    }
    named = check("listUserGroups", client.get(URL, {"group_name": "DEV"}), 200)
    assert [g["group_name"] for g in named] == ["devs", "oidc-devs"]
    by_dn = check("listUserGroups", client.get(URL, {"ldap_group_dn": "CN=devs"}), 200)
    assert [g["group_name"] for g in by_dn] == ["devs"]
    paged = client.get(URL, {"page_size": 2, "page": 2})
    assert [g["group_name"] for g in check("listUserGroups", paged, 200)] == ["oidc-devs"]
    assert paged["X-Total-Count"] == "3"


def test_list_under_ldap_shows_ldap_groups(admin, client_for, groups):
    configuration.store({"auth_mode": "ldap_auth"})
    try:
        body = check("listUserGroups", client_for(admin).get(URL), 200)
    finally:
        cache.delete(configuration.CACHE_KEY)
    assert [g["group_name"] for g in body] == ["devs"]


def test_list_query_count_does_not_grow(admin, client_for, django_assert_max_num_queries):
    client = client_for(admin)
    client.get(URL)
    with django_assert_max_num_queries(5) as small:
        client.get(URL, {"page_size": 100})
    UserGroup.objects.bulk_create(UserGroup(group_name=f"g{i}", group_type=2) for i in range(50))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(URL, {"page_size": 100}).json()) == 50


def test_search_groups(make_user, client_for, anon_client, groups):
    client = client_for(make_user())
    body = check("searchUserGroups", client.get(f"{URL}/search", {"groupname": "dev"}), 200)
    assert body == [
        {"id": groups["devs"].pk, "group_name": "devs", "group_type": 1},
        {"id": groups["oidc-devs"].pk, "group_name": "oidc-devs", "group_type": 3},
    ]
    assert check("searchUserGroups", client.get(f"{URL}/search", {"groupname": "zzz"}), 200) == []
    check("searchUserGroups", client.get(f"{URL}/search"), 400, "BAD_REQUEST")
    check("searchUserGroups", anon_client.get(f"{URL}/search", {"groupname": "d"}), 401)


def test_get_group(admin, client_for, groups):
    client = client_for(admin)
    body = check("getUserGroup", client.get(f"{URL}/{groups['ops'].pk}"), 200)
    assert body == {
        "id": groups["ops"].pk,
        "group_name": "ops",
        "group_type": 2,
        "ldap_group_dn": "",
    }
    check("getUserGroup", client.get(f"{URL}/999999"), 404, "NOT_FOUND")
    check("getUserGroup", client.get(f"{URL}/0"), 400, "BAD_REQUEST")


def test_update_group_name(admin, client_for, groups):
    client = client_for(admin)
    gid = groups["devs"].pk
    body = {"group_name": "developers", "group_type": 2, "ldap_group_dn": "cn=other"}
    check("updateUserGroup", client.put(f"{URL}/{gid}", body, format="json"), 200)
    group = UserGroup.objects.get(pk=gid)
    assert (group.group_name, group.group_type, group.ldap_group_dn) == ("developers", 1, "cn=devs")
    assert AuditLog.objects.filter(resource_type="user_group", operation="update").exists()
    check("updateUserGroup", client.put(f"{URL}/{gid}", {}, format="json"), 400, "BAD_REQUEST")
    check("updateUserGroup", client.put(f"{URL}/999999", {"group_name": "x"}, format="json"), 404)


def test_delete_group_removes_its_memberships(admin, make_user, make_project, client_for, groups):
    group = groups["devs"]
    user = make_user()
    user.user_groups.add(group)
    project = make_project("demo")
    ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    assert client_for(user).get("/api/v2.0/projects/demo").status_code == 200
    check("deleteUserGroup", client_for(admin).delete(f"{URL}/{group.pk}"), 200)
    assert not UserGroup.objects.filter(pk=group.pk).exists()
    assert not ProjectMember.objects.filter(project=project, group_id=group.pk).exists()
    assert client_for(user).get("/api/v2.0/projects/demo").status_code == 404
    assert AuditLog.objects.filter(resource_type="user_group", operation="delete").count() == 1
    # deleting again succeeds without a change, as in Harbor (no 404 in its contract)
    check("deleteUserGroup", client_for(admin).delete(f"{URL}/{group.pk}"), 200)
    assert AuditLog.objects.filter(resource_type="user_group", operation="delete").count() == 1
