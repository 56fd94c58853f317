"""The project group against Harbor's contract: list (q=, sort=, with_detail), create, head,
get, update, delete, _deletable and summary."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditLog
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Repository
from tests.contract import assert_matches
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/projects"


def names(response) -> list[str]:
    check("listProjects", response, 200)
    return [p["name"] for p in response.json()]


@pytest.fixture
def landscape(make_user, make_project):
    """alice owns alpha (private) and beta (public); bob owns gamma, with carol as guest."""
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    alpha = make_project("alpha", owner=alice)
    beta = make_project("beta", owner=alice, public=True)
    gamma = make_project("gamma", owner=bob, members={carol: Role.GUEST})
    Repository.objects.create(project=beta, name="beta/web")
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "alpha": alpha,
        "beta": beta,
        "gamma": gamma,
    }


# --- existing operations, against the contract ----------------------------------------------


def test_list_projects_matches_contract(admin, client_for, anon_client, landscape):
    body = check("listProjects", client_for(admin).get(URL), 200)
    assert [p["name"] for p in body] == ["alpha", "beta", "gamma"]
    beta = body[1]
    assert beta["repo_count"] == 1
    assert beta["metadata"] == {"public": "true"}
    assert beta["owner_name"] == "alice"
    assert "registry_id" not in beta  # only proxy cache projects have one
    check("listProjects", anon_client.get(URL), 200)
    check("listProjects", client_for(landscape["carol"]).get(URL), 200)


def test_list_projects_errors_match_contract(admin, client_for):
    check("listProjects", client_for(admin).get(URL, {"page": 0}), 400, "BAD_REQUEST")
    check("listProjects", client_for(admin).get(URL, {"q": "nokey"}), 400, "BAD_REQUEST")
    check("listProjects", client_for(admin, "wrong").get(URL), 401, "UNAUTHORIZED")


def test_create_project_matches_contract(make_user, client_for, anon_client):
    client = client_for(make_user())
    check("createProject", client.post(URL, {"project_name": "demo"}, format="json"), 201)
    check("createProject", client.post(URL, {"project_name": "demo"}, format="json"), 409)
    check("createProject", client.post(URL, {"project_name": "Bad"}, format="json"), 400)
    check("createProject", anon_client.post(URL, {"project_name": "x"}, format="json"), 401)


def test_create_project_location_by_name(make_user, client_for):
    response = client_for(make_user()).post(
        URL, {"project_name": "demo"}, format="json", HTTP_X_RESOURCE_NAME_IN_LOCATION="true"
    )
    assert response["Location"] == "/api/v2.0/projects/demo"


def test_create_drops_proxy_metadata_and_refuses_retention_id(make_user, client_for):
    client = client_for(make_user())
    body = {"project_name": "demo", "metadata": {"proxy_speed_kb": "10", "severity": "HIGH"}}
    check("createProject", client.post(URL, body, format="json"), 201)
    assert Project.objects.get(name="demo").metadata == {"severity": "high"}
    body = {"project_name": "other", "metadata": {"retention_id": "7"}}
    check("createProject", client.post(URL, body, format="json"), 400, "BAD_REQUEST")
    body = {"project_name": "other", "metadata": {"retention_id": ""}}
    check("createProject", client.post(URL, body, format="json"), 201)


def test_head_project(client_for, anon_client, landscape):
    client = client_for(landscape["alice"])
    response = client.head(URL, {"project_name": "alpha"})
    assert response.status_code == 200
    assert_matches("headProject", response)
    assert client.head(URL, {"project_name": "nope"}).status_code == 404
    assert anon_client.head(URL, {"project_name": "alpha"}).status_code == 404
    assert client.head(URL).status_code == 400


def test_get_project_matches_contract(client_for, anon_client, landscape):
    body = check("getProject", client_for(landscape["alice"]).get(f"{URL}/alpha"), 200)
    assert body["current_user_role_ids"] == [1]
    check("getProject", anon_client.get(f"{URL}/beta"), 200)
    check("getProject", anon_client.get(f"{URL}/alpha"), 404, "NOT_FOUND")


# --- list: q=, sort=, with_detail --------------------------------------------------------------


def test_q_filters(admin, client_for, landscape):
    client = client_for(admin)
    assert names(client.get(URL, {"q": "name=alpha"})) == ["alpha"]
    assert names(client.get(URL, {"q": "name=~a"})) == ["alpha", "beta", "gamma"]
    assert names(client.get(URL, {"q": "name=~amm"})) == ["gamma"]
    assert names(client.get(URL, {"q": "public=true"})) == ["beta"]
    assert names(client.get(URL, {"q": "public=false,owner=alice"})) == ["alpha"]
    assert names(client.get(URL, {"q": f"owner_id={landscape['bob'].pk}"})) == ["gamma"]
    ids = f"{landscape['alpha'].pk} {landscape['gamma'].pk}"
    assert names(client.get(URL, {"q": f"project_id={{{ids}}}"})) == ["alpha", "gamma"]


def test_q_creation_time_range(admin, client_for, landscape):
    old = timezone.now() - dt.timedelta(days=10)
    Project.objects.filter(name="alpha").update(creation_time=old)
    client = client_for(admin)
    cutoff = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert names(client.get(URL, {"q": f"creation_time=[~{cutoff}]"})) == ["alpha"]
    assert names(client.get(URL, {"q": f"creation_time=[{cutoff}~]"})) == ["beta", "gamma"]


def test_q_does_not_widen_visibility(client_for, landscape):
    carol = client_for(landscape["carol"])
    assert names(carol.get(URL, {"q": "public=false"})) == ["gamma"]
    assert names(carol.get(URL, {"q": "owner=alice"})) == ["beta"]


def test_sort(admin, client_for, landscape):
    client = client_for(admin)
    assert names(client.get(URL, {"sort": "-name"})) == ["gamma", "beta", "alpha"]
    Project.objects.filter(name="beta").update(creation_time=timezone.now() - dt.timedelta(days=3))
    assert names(client.get(URL, {"sort": "creation_time"}))[0] == "beta"
    assert names(client.get(URL, {"sort": "-project_id"})) == ["gamma", "beta", "alpha"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "nokey"},
        {"q": "color=red"},
        {"q": "public=maybe"},
        {"q": "project_id=abc"},
        {"q": "creation_time=[yesterday~]"},
        {"q": "public=~tr"},
        {"sort": "color"},
        {"sort": "-owner_name"},
        {"page": "x"},
        {"page_size": "-1"},
        {"with_detail": "perhaps"},
    ],
)
def test_bad_parameters_are_400(admin, client_for, params):
    check("listProjects", client_for(admin).get(URL, params), 400, "BAD_REQUEST")


def test_with_detail_false_leaves_out_metadata_and_owner(client_for, landscape):
    [beta] = check("listProjects", client_for(landscape["bob"]).get(URL, {"name": "beta"}), 200)
    assert "metadata" in beta and "owner_name" in beta
    response = client_for(landscape["bob"]).get(URL, {"name": "beta", "with_detail": "false"})
    [brief] = check("listProjects", response, 200)
    assert "metadata" not in brief and "owner_name" not in brief
    assert brief["repo_count"] == 1


def test_list_query_count_does_not_grow(
    make_user, make_project, client_for, django_assert_max_num_queries
):
    viewer = make_user()
    for i in range(3):
        make_project(f"small{i}", members={viewer: Role.GUEST})
    client = client_for(viewer)
    client.get(URL)  # warm the credential cache
    with django_assert_max_num_queries(8) as small:
        assert len(client.get(URL, {"page_size": 100}).json()) == 3
    for i in range(40):
        project = make_project(f"large{i:02d}", public=i % 2 == 0, members={viewer: Role.DEVELOPER})
        Repository.objects.create(project=project, name=f"large{i:02d}/app")
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(URL, {"page_size": 100}).json()) == 43


# --- update -------------------------------------------------------------------------------------


def test_update_project_metadata(client_for, landscape):
    client = client_for(landscape["alice"])
    body = {"metadata": {"public": "true", "auto_scan": "true", "severity": "critical"}}
    check("updateProject", client.put(f"{URL}/alpha", body, format="json"), 200)
    alpha = Project.objects.get(name="alpha")
    assert alpha.public is True
    assert alpha.metadata == {"auto_scan": "true", "severity": "critical"}
    entry = AuditLog.objects.get(operation="update", resource_type="project", resource="alpha")
    assert entry.username == "alice" and entry.project_id == alpha.pk
    # a second update merges; the name in the body cannot rename the project
    body = {"project_name": "renamed", "metadata": {"public": "false"}}
    check("updateProject", client.put(f"{URL}/{alpha.pk}", body, format="json"), 200)
    alpha.refresh_from_db()
    assert (alpha.name, alpha.public) == ("alpha", False)
    assert alpha.metadata == {"auto_scan": "true", "severity": "critical"}


def test_update_ignores_top_level_public(client_for, landscape):
    """Harbor reads `public` on creation only (it is kept for old replication clients)."""
    response = client_for(landscape["alice"]).put(f"{URL}/alpha", {"public": True}, format="json")
    check("updateProject", response, 200)
    assert Project.objects.get(name="alpha").public is False


@pytest.mark.parametrize(
    "metadata",
    [{"public": "yes"}, {"auto_scan": "1"}, {"severity": "urgent"}, {"color": "red"}],
)
def test_update_bad_metadata_is_400(client_for, landscape, metadata):
    response = client_for(landscape["alice"]).put(
        f"{URL}/alpha", {"metadata": metadata}, format="json"
    )
    check("updateProject", response, 400, "BAD_REQUEST")
    assert Project.objects.get(name="alpha").metadata == {}


def test_update_retention_id_must_match(client_for, landscape):
    alpha = landscape["alpha"]
    alpha.metadata = {"retention_id": "5"}
    alpha.save()
    client = client_for(landscape["alice"])
    body = {"metadata": {"retention_id": "6"}}
    check("updateProject", client.put(f"{URL}/alpha", body, format="json"), 400, "BAD_REQUEST")
    body = {"metadata": {"retention_id": "5", "auto_scan": "true"}}
    check("updateProject", client.put(f"{URL}/alpha", body, format="json"), 200)
    alpha.refresh_from_db()
    assert alpha.metadata == {"retention_id": "5", "auto_scan": "true"}


def test_update_errors(client_for, landscape):
    client = client_for(landscape["alice"])
    check("updateProject", client.put(f"{URL}/nope", {}, format="json"), 404, "NOT_FOUND")
    check("updateProject", client.put(f"{URL}/alpha", [1], format="json"), 400, "BAD_REQUEST")
    carol = client_for(landscape["carol"])
    check("updateProject", carol.put(f"{URL}/gamma", {}, format="json"), 403, "FORBIDDEN")


# --- delete and _deletable ------------------------------------------------------------------


def test_delete_empty_project(client_for, landscape):
    client = client_for(landscape["alice"])
    body = check("getProjectDeletable", client.get(f"{URL}/alpha/_deletable"), 200)
    assert body == {"deletable": True}
    pk = landscape["alpha"].pk
    check("deleteProject", client.delete(f"{URL}/alpha"), 200)
    assert not Project.objects.filter(pk=pk).exists()
    assert not ProjectMember.objects.filter(project_id=pk).exists()
    entry = AuditLog.objects.get(operation="delete", resource_type="project")
    assert (entry.resource, entry.project_id, entry.username) == ("alpha", pk, "alice")
    check("deleteProject", client.delete(f"{URL}/alpha"), 404, "NOT_FOUND")


def test_project_with_repositories_is_not_deletable(client_for, landscape):
    client = client_for(landscape["alice"])
    body = check("getProjectDeletable", client.get(f"{URL}/beta/_deletable"), 200)
    assert body == {
        "deletable": False,
        "message": "the project contains repositories, can not be deleted",
    }
    error = check("deleteProject", client.delete(f"{URL}/beta"), 412, "PRECONDITION")
    assert "repositories" in error["errors"][0]["message"]
    assert Project.objects.filter(name="beta").exists()
    assert not AuditLog.objects.filter(operation="delete").exists()


def test_name_is_free_again_after_delete(client_for, landscape):
    client = client_for(landscape["alice"])
    check("deleteProject", client.delete(f"{URL}/alpha"), 200)
    check("createProject", client.post(URL, {"project_name": "alpha"}, format="json"), 201)


# --- summary -------------------------------------------------------------------------------------


def test_summary_counts_members_by_role(client_for, make_user, make_group, landscape):
    gamma = landscape["gamma"]
    group = make_group()
    ProjectMember.objects.create(project=gamma, group=group, role=Role.DEVELOPER)
    ProjectMember.objects.create(project=gamma, user=make_user(), role=Role.MAINTAINER)
    ProjectMember.objects.create(project=gamma, user=make_user(), role=Role.LIMITED_GUEST)
    Repository.objects.create(project=gamma, name="gamma/a")
    Repository.objects.create(project=gamma, name="gamma/b")
    body = check(
        "getProjectSummary", client_for(landscape["carol"]).get(f"{URL}/gamma/summary"), 200
    )
    assert body == {
        "repo_count": 2,
        "project_admin_count": 1,
        "maintainer_count": 1,
        "developer_count": 1,
        "guest_count": 1,
        "limited_guest_count": 1,
        "quota": {"hard": {"storage": -1}, "used": {"storage": 0}},
    }


def test_summary_without_member_list_right_has_only_repo_count(
    client_for, anon_client, make_user, landscape
):
    limited = make_user()
    ProjectMember.objects.create(project=landscape["gamma"], user=limited, role=Role.LIMITED_GUEST)
    body = check("getProjectSummary", client_for(limited).get(f"{URL}/gamma/summary"), 200)
    assert body == {"repo_count": 0, "quota": {"hard": {"storage": -1}, "used": {"storage": 0}}}
    body = check("getProjectSummary", anon_client.get(f"{URL}/beta/summary"), 200)
    assert body == {"repo_count": 1}
