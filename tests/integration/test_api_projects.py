"""/api/v2.0/projects: create, list, head and get, with Harbor's visibility rules."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Repository
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/projects"


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [p["name"] for p in response.json()]


# --- create --------------------------------------------------------------------------------


def test_anonymous_cannot_create(anon_client):
    response = anon_client.post(URL, {"project_name": "demo"}, format="json")
    assert_harbor_error(response, 401, "UNAUTHORIZED")
    assert not Project.objects.exists()


def test_create_project(make_user, client_for):
    alice = make_user("alice")
    response = client_for(alice).post(URL, {"project_name": "demo"}, format="json")
    assert response.status_code == 201, response.content
    project = Project.objects.get(name="demo")
    assert response["Location"] == f"/api/v2.0/projects/{project.pk}"
    assert project.owner == alice
    assert project.public is False
    members = list(ProjectMember.objects.filter(project=project))
    assert [(m.user, m.group, m.role) for m in members] == [(alice, None, 1)]
    assert AuditLog.objects.filter(
        operation="create",
        resource_type="project",
        resource="demo",
        username="alice",
        project_id=project.pk,
    ).exists()


@pytest.mark.parametrize(
    ("body", "public"),
    [
        ({"public": True}, True),
        ({"public": False}, False),
        ({"metadata": {"public": "true"}}, True),
        ({"metadata": {"public": "false"}}, False),
        ({"public": True, "metadata": {"public": "false"}}, False),  # metadata wins
        ({}, False),
    ],
)
def test_create_public_or_private(make_user, client_for, body, public):
    response = client_for(make_user()).post(URL, {"project_name": "demo", **body}, format="json")
    assert response.status_code == 201, response.content
    assert Project.objects.get(name="demo").public is public


def test_create_keeps_other_metadata(make_user, client_for):
    body = {"project_name": "demo", "metadata": {"public": "true", "auto_scan": "true"}}
    assert client_for(make_user()).post(URL, body, format="json").status_code == 201
    assert Project.objects.get(name="demo").metadata == {"auto_scan": "true"}


@pytest.mark.parametrize("metadata", [{"public": "yes"}, {"public": "True"}, {"unknown_key": "1"}])
def test_create_bad_metadata_is_400(make_user, client_for, metadata):
    body = {"project_name": "demo", "metadata": metadata}
    assert_harbor_error(client_for(make_user()).post(URL, body, format="json"), 400, "BAD_REQUEST")
    assert not Project.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["UPPER", "a..b", "-x", "x-", ".x", "_x", "a b", "a/b", "é", "a" * 256, "a" * 300, ""],
)
def test_bad_project_names_are_400(make_user, client_for, name):
    response = client_for(make_user()).post(URL, {"project_name": name}, format="json")
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert not Project.objects.exists()


@pytest.mark.parametrize("name", ["a", "1", "a.b", "a_b", "a-b", "a1-b2.c3_d4", "a" * 255])
def test_good_project_names(make_user, client_for, name):
    response = client_for(make_user()).post(URL, {"project_name": name}, format="json")
    assert response.status_code == 201, response.content


def test_missing_project_name_is_400(make_user, client_for):
    assert_harbor_error(client_for(make_user()).post(URL, {}, format="json"), 400, "BAD_REQUEST")


def test_duplicate_project_is_409(make_user, client_for):
    alice, bob = make_user(), make_user()
    assert client_for(alice).post(URL, {"project_name": "demo"}, format="json").status_code == 201
    response = client_for(bob).post(URL, {"project_name": "demo"}, format="json")
    assert_harbor_error(response, 409, "CONFLICT")
    assert Project.objects.count() == 1
    assert ProjectMember.objects.count() == 1


# --- head ----------------------------------------------------------------------------------


def test_head_project(make_user, make_project, client_for):
    owner = make_user()
    make_project("demo", owner=owner)
    client = client_for(owner)
    assert client.head(URL, {"project_name": "demo"}).status_code == 200
    assert client.head(URL, {"project_name": "ghost"}).status_code == 404
    assert client.head(URL).status_code == 400


def test_head_does_not_reveal_private_projects(
    admin, anon_client, make_user, make_project, client_for
):
    make_project("secret")
    make_project("open", public=True)
    outsider = client_for(make_user())
    for client in (anon_client, outsider):
        assert client.head(URL, {"project_name": "secret"}).status_code == 404
        assert client.head(URL, {"project_name": "open"}).status_code == 200
    assert client_for(admin).head(URL, {"project_name": "secret"}).status_code == 200


# --- list ----------------------------------------------------------------------------------


@pytest.fixture
def landscape(make_user, make_project):
    """alice owns priv-a (private) and pub-a (public); bob owns priv-b, where carol is a guest."""
    alice, bob, carol, dave = (make_user(n) for n in ("alice", "bob", "carol", "dave"))
    make_project("priv-a", owner=alice)
    make_project("pub-a", owner=alice, public=True)
    make_project("priv-b", owner=bob, members={carol: Role.GUEST})
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


def test_anonymous_lists_only_public(anon_client, landscape):
    response = anon_client.get(URL)
    assert names(response) == ["pub-a"]
    assert response["X-Total-Count"] == "1"


def test_members_see_their_private_projects(client_for, landscape):
    assert names(client_for(landscape["alice"]).get(URL)) == ["priv-a", "pub-a"]
    assert names(client_for(landscape["bob"]).get(URL)) == ["priv-b", "pub-a"]
    assert names(client_for(landscape["carol"]).get(URL)) == ["priv-b", "pub-a"]
    dave = client_for(landscape["dave"]).get(URL)
    assert names(dave) == ["pub-a"]
    assert dave["X-Total-Count"] == "1"


def test_sysadmin_sees_everything(admin, client_for, landscape):
    assert names(client_for(admin).get(URL)) == ["priv-a", "priv-b", "pub-a"]


def test_group_members_see_the_project(make_user, make_group, make_project, client_for):
    erin = make_user()
    group = make_group()
    erin.user_groups.add(group)
    project = make_project("team")
    ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    ProjectMember.objects.create(project=project, user=erin, role=Role.GUEST)
    response = client_for(erin).get(URL)
    assert names(response) == ["team"]  # once, although a member twice
    assert response.json()[0]["current_user_role_id"] == 2
    assert response.json()[0]["current_user_role_ids"] == [2, 3]


def test_name_filter(admin, client_for, landscape):
    client = client_for(admin)
    assert names(client.get(URL, {"name": "priv"})) == ["priv-a", "priv-b"]
    assert names(client.get(URL, {"name": "-b"})) == ["priv-b"]
    assert names(client.get(URL, {"name": "zzz"})) == []


def test_name_filter_does_not_widen_visibility(client_for, landscape):
    assert names(client_for(landscape["dave"]).get(URL, {"name": "priv"})) == []


def test_public_filter(admin, client_for, landscape):
    client = client_for(admin)
    assert names(client.get(URL, {"public": "true"})) == ["pub-a"]
    assert names(client.get(URL, {"public": "false"})) == ["priv-a", "priv-b"]
    assert_harbor_error(client.get(URL, {"public": "maybe"}), 400, "BAD_REQUEST")


def test_owner_filter(admin, client_for, landscape):
    client = client_for(admin)
    assert names(client.get(URL, {"owner": "alice"})) == ["priv-a", "pub-a"]
    assert names(client.get(URL, {"owner": "bob"})) == ["priv-b"]
    assert names(client.get(URL, {"owner": "nobody"})) == []
    assert names(client_for(landscape["dave"]).get(URL, {"owner": "alice"})) == ["pub-a"]


def test_project_fields(client_for, landscape):
    project = Project.objects.get(name="pub-a")
    Repository.objects.create(project=project, name="pub-a/one")
    Repository.objects.create(project=project, name="pub-a/two")
    body = {p["name"]: p for p in client_for(landscape["alice"]).get(URL).json()}
    pub = body["pub-a"]
    assert pub["project_id"] == project.pk
    assert pub["owner_id"] == landscape["alice"].pk
    assert pub["owner_name"] == "alice"
    assert pub["repo_count"] == 2
    assert body["priv-a"]["repo_count"] == 0
    assert pub["metadata"]["public"] == "true"
    assert body["priv-a"]["metadata"]["public"] == "false"
    assert pub["current_user_role_id"] == 1
    assert pub["current_user_role_ids"] == [1]


def test_repo_count_is_not_multiplied_by_memberships(client_for, make_user, make_project):
    members = {make_user(): Role.GUEST for _ in range(3)}
    project = make_project("busy", members=members)
    Repository.objects.create(project=project, name="busy/one")
    viewer = next(iter(members))
    [row] = client_for(viewer).get(URL).json()
    assert row["repo_count"] == 1


def test_current_user_role_id_per_caller(anon_client, client_for, landscape):
    carol = {p["name"]: p for p in client_for(landscape["carol"]).get(URL).json()}
    assert carol["priv-b"]["current_user_role_id"] == 3
    assert carol["pub-a"]["current_user_role_id"] == 0
    assert carol["pub-a"]["current_user_role_ids"] == []
    [anonymous] = anon_client.get(URL).json()
    assert anonymous["current_user_role_id"] == 0


def test_list_pagination(anon_client, make_project):
    for i in range(12):
        make_project(f"p{i:02d}", public=True)
    response = anon_client.get(URL, {"page": 2, "page_size": 5})
    assert names(response) == ["p05", "p06", "p07", "p08", "p09"]
    assert response["X-Total-Count"] == "12"
    assert 'rel="next"' in response["Link"] and 'rel="prev"' in response["Link"]
    assert_harbor_error(anon_client.get(URL, {"page": 0}), 400, "BAD_REQUEST")


# --- get one -------------------------------------------------------------------------------


def test_get_by_name_and_id(client_for, landscape):
    project = Project.objects.get(name="priv-a")
    client = client_for(landscape["alice"])
    by_name = client.get(f"{URL}/priv-a")
    by_id = client.get(f"{URL}/{project.pk}")
    assert by_name.status_code == by_id.status_code == 200
    assert by_name.json() == by_id.json()
    assert by_name.json()["project_id"] == project.pk
    assert by_name.json()["current_user_role_id"] == 1
    assert by_name.json()["metadata"]["public"] == "false"


def test_numeric_names_need_x_is_resource_name(make_user, make_project, client_for):
    owner = make_user()
    first = make_project("first", owner=owner)
    numeric = make_project(str(first.pk + 1000), owner=owner)
    client = client_for(owner)
    as_name = client.get(f"{URL}/{numeric.name}", HTTP_X_IS_RESOURCE_NAME="true")
    assert as_name.status_code == 200
    assert as_name.json()["project_id"] == numeric.pk
    as_id = client.get(f"{URL}/{first.pk}", HTTP_X_IS_RESOURCE_NAME="false")
    assert as_id.json()["name"] == "first"
    default = client.get(f"{URL}/{numeric.name}")  # a number is an id by default
    assert_harbor_error(default, 404, "NOT_FOUND")
    named = client.get(f"{URL}/first", HTTP_X_IS_RESOURCE_NAME="true")
    assert named.json()["project_id"] == first.pk


def test_non_numeric_key_with_resource_name_false_is_a_name(make_user, make_project, client_for):
    """Harbor: X-Is-Resource-Name false only makes numbers ids; other keys stay names."""
    owner = make_user()
    make_project("demo", owner=owner)
    response = client_for(owner).get(f"{URL}/demo", HTTP_X_IS_RESOURCE_NAME="false")
    assert response.status_code == 200
    assert response.json()["name"] == "demo"


@pytest.mark.parametrize("key", ["99999999999999999999", "²", "0", "-1"])
def test_odd_keys_are_404_not_500(admin, client_for, key):
    response = client_for(admin).get(f"{URL}/{key}")
    assert_harbor_error(response, 404, "NOT_FOUND")


def test_private_project_is_indistinguishable_from_missing(client_for, anon_client, landscape):
    dave = client_for(landscape["dave"])
    hidden = dave.get(f"{URL}/priv-a")
    missing = dave.get(f"{URL}/no-such")
    hidden_error = assert_harbor_error(hidden, 404, "NOT_FOUND")
    missing_error = assert_harbor_error(missing, 404, "NOT_FOUND")
    assert hidden_error["message"].replace("priv-a", "X") == missing_error["message"].replace(
        "no-such", "X"
    )
    project = Project.objects.get(name="priv-a")
    assert_harbor_error(dave.get(f"{URL}/{project.pk}"), 404, "NOT_FOUND")
    assert_harbor_error(anon_client.get(f"{URL}/priv-a"), 404, "NOT_FOUND")


def test_public_project_is_readable_by_anyone(anon_client, client_for, landscape):
    assert anon_client.get(f"{URL}/pub-a").json()["name"] == "pub-a"
    body = client_for(landscape["dave"]).get(f"{URL}/pub-a").json()
    assert body["current_user_role_id"] == 0


def test_sysadmin_reads_private_project(admin, client_for, landscape):
    response = client_for(admin).get(f"{URL}/priv-b")
    assert response.status_code == 200
    assert response.json()["owner_name"] == "bob"
    assert response.json()["current_user_role_id"] == 0


def test_limited_guest_reads_project(make_user, make_project, client_for):
    limited = make_user()
    make_project("secret", members={limited: Role.LIMITED_GUEST})
    response = client_for(limited).get(f"{URL}/secret")
    assert response.status_code == 200
    assert response.json()["current_user_role_id"] == 5
