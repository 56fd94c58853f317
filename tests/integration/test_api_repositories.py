"""/api/v2.0/repositories and /projects/{project_name}/repositories[/{repository_name}]."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from projects.roles import Role
from registry.models import Artifact, Repository, Tag
from tests.contract import assert_matches
from tests.distribution import push_image, stored_manifest
from tests.integration.conftest import assert_harbor_error
from tests.integration.registry_data import image, index, referrer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

BASE = "/api/v2.0/projects"


def repo_url(project: str, path: str = "") -> str:
    url = f"{BASE}/{project}/repositories"
    return f"{url}/{path.replace('/', '%252F')}" if path else url


@pytest.fixture
def world(make_user, make_project):
    """demo (private, alice is a developer), open (public), other (private, no alice)."""
    alice = make_user("alice")
    demo = make_project("demo", members={alice: Role.DEVELOPER})
    open_ = make_project("open", public=True)
    other = make_project("other")
    image(demo, "team/app", "v1")
    image(demo, "web", "latest")
    image(open_, "pub", "1.0")
    image(other, "secret", "x")
    return {"alice": alice, "demo": demo, "open": open_, "other": other}


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(r["name"] for r in response.json())


# --- listAllRepositories ------------------------------------------------------------------


def test_list_all_shows_what_the_caller_may_see(world, admin, client_for, anon_client):
    everything = client_for(admin).get("/api/v2.0/repositories")
    assert_matches("listAllRepositories", everything, 200)
    assert names(everything) == ["demo/team/app", "demo/web", "open/pub", "other/secret"]
    assert everything["X-Total-Count"] == "4"
    mine = client_for(world["alice"]).get("/api/v2.0/repositories")
    assert names(mine) == ["demo/team/app", "demo/web", "open/pub"]
    assert names(anon_client.get("/api/v2.0/repositories")) == ["open/pub"]


def test_list_all_query_sort_and_pages(world, admin, client_for):
    client = client_for(admin)
    response = client.get("/api/v2.0/repositories", {"q": "name=~team", "sort": "name"})
    assert names(response) == ["demo/team/app"]
    response = client.get("/api/v2.0/repositories", {"sort": "-name", "page_size": 2, "page": 1})
    assert [r["name"] for r in response.json()] == ["other/secret", "open/pub"]
    assert response["X-Total-Count"] == "4"
    assert 'rel="next"' in response["Link"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "nosuchkey=1"},
        {"q": "name"},
        {"q": "project_id=abc"},
        {"q": "creation_time=[notatime~]"},
        {"sort": "nosuchfield"},
        {"page": "0"},
        {"page_size": "x"},
    ],
)
def test_list_all_bad_parameters_are_400(world, admin, client_for, params):
    response = client_for(admin).get("/api/v2.0/repositories", params)
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert_matches("listAllRepositories", response, 400)


# --- listRepositories ---------------------------------------------------------------------


def test_list_repositories_of_a_project(world, client_for):
    response = client_for(world["alice"]).get(repo_url("demo"))
    assert_matches("listRepositories", response, 200)
    assert names(response) == ["demo/team/app", "demo/web"]
    body = {r["name"]: r for r in response.json()}["demo/team/app"]
    repository = Repository.objects.get(name="demo/team/app")
    assert body == {
        "id": repository.pk,
        "project_id": world["demo"].pk,
        "name": "demo/team/app",
        "description": "",
        "artifact_count": 1,
        "pull_count": 0,
        "creation_time": body["creation_time"],
        "update_time": body["update_time"],
    }


def test_artifact_count_counts_what_list_artifacts_shows(world, client_for):
    demo = world["demo"]
    amd, arm = image(demo, "multi"), image(demo, "multi", architecture="arm64")
    index(demo, "multi", "latest", [amd, arm])  # children untagged: shown under the index
    referrer(demo, "multi", amd)  # an accessory: shown under its subject
    image(demo, "multi", "old")
    response = client_for(world["alice"]).get(repo_url("demo", "multi"))
    assert response.json()["artifact_count"] == 2


def test_list_repositories_visibility(world, client_for, anon_client, make_user):
    outsider = client_for(make_user())
    assert_matches("listRepositories", anon_client.get(repo_url("open")), 200)
    for client, project in [
        (outsider, "demo"),
        (anon_client, "demo"),
        (outsider, "ghost"),
        (client_for(world["alice"]), "other"),
    ]:
        response = client.get(repo_url(project))
        assert_harbor_error(response, 404, "NOT_FOUND")
        assert_matches("listRepositories", response, 404)


def test_list_repositories_bad_query_is_400(world, client_for):
    response = client_for(world["alice"]).get(repo_url("demo"), {"q": "name=[a~b]"})
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert_matches("listRepositories", response, 400)


def test_list_repositories_in_a_bounded_number_of_queries(make_user, make_project, client_for):
    alice = make_user("alice")
    counts = []
    for name, n in (("small", 20), ("large", 40)):
        project = make_project(name, members={alice: Role.GUEST})
        for i in range(n):
            image(project, f"repo{i}", "v1")
        client = client_for(alice)
        client.get(repo_url(name))  # warm the credential cache
        with CaptureQueriesContext(connection) as queries:
            response = client.get(repo_url(name), {"page_size": 100})
        assert len(response.json()) == n
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_list_repositories_query_budget(
    make_user, make_project, client_for, django_assert_max_num_queries
):
    alice = make_user("alice")
    project = make_project("demo", members={alice: Role.GUEST})
    for i in range(40):
        image(project, f"repo{i}", "v1")
    client = client_for(alice)
    client.get(repo_url("demo"))
    with django_assert_max_num_queries(8):
        assert len(client.get(repo_url("demo"), {"page_size": 50}).json()) == 40


def test_list_all_repositories_in_a_bounded_number_of_queries(
    admin, make_user, make_project, client_for
):
    alice = make_user("alice")
    clients = {"admin": client_for(admin), "alice": client_for(alice)}
    counts: dict[str, list[int]] = {name: [] for name in clients}
    for size, projects in (("small", 2), ("large", 6)):
        for p in range(projects):
            project = make_project(f"{size}{p}", public=p % 2 == 0, members={alice: Role.GUEST})
            for r in range(projects):
                image(project, f"repo{r}", "v1")
        for name, client in clients.items():
            client.get("/api/v2.0/repositories")  # warm the credential cache
            with CaptureQueriesContext(connection) as queries:
                response = client.get("/api/v2.0/repositories", {"page_size": 100})
            assert len(response.json()) == 4 + (36 if size == "large" else 0)
            assert {r["artifact_count"] for r in response.json()} == {1}
            counts[name].append(len(queries))
    assert all(small == large <= 6 for small, large in counts.values()), counts


# --- getRepository / updateRepository -----------------------------------------------------


def test_get_repository_with_a_slash_in_its_name(world, client_for):
    response = client_for(world["alice"]).get(repo_url("demo", "team/app"))
    assert_matches("getRepository", response, 200)
    assert response.json()["name"] == "demo/team/app"
    assert response.json()["artifact_count"] == 1


def test_get_missing_repository_is_404(world, client_for):
    for path in ("ghost", "team/ghost", "UPPER"):
        response = client_for(world["alice"]).get(repo_url("demo", path))
        assert_harbor_error(response, 404, "NOT_FOUND")
        assert_matches("getRepository", response, 404)


def test_update_repository_description(world, client_for):
    response = client_for(world["alice"]).put(
        repo_url("demo", "team/app"), {"description": "the app"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert Repository.objects.get(name="demo/team/app").description == "the app"
    assert AuditLog.objects.filter(
        operation="update", resource_type="repository", resource="demo/team/app", username="alice"
    ).exists()
    got = client_for(world["alice"]).get(repo_url("demo", "team/app"))
    assert got.json()["description"] == "the app"


def test_update_repository_needs_update_permission(world, client_for, anon_client, make_user):
    guest = make_user("guest")
    world["open"].members.create(user=guest, role=Role.GUEST)
    response = client_for(guest).put(repo_url("open", "pub"), {"description": "x"}, format="json")
    assert_harbor_error(response, 403, "FORBIDDEN")
    assert_matches("updateRepository", response, 403)
    response = anon_client.put(repo_url("open", "pub"), {"description": "x"}, format="json")
    assert_harbor_error(response, 401, "UNAUTHORIZED")
    assert_matches("updateRepository", response, 401)
    assert Repository.objects.get(name="open/pub").description == ""


def test_update_missing_repository_is_404(world, client_for):
    response = client_for(world["alice"]).put(
        repo_url("demo", "ghost"), {"description": "x"}, format="json"
    )
    assert_harbor_error(response, 404)
    assert_matches("updateRepository", response, 404)


# --- deleteRepository ---------------------------------------------------------------------


def test_delete_repository_removes_manifests_and_rows(
    distribution, make_user, make_project, client_for
):
    owner = make_user("owner")
    make_project("demo", owner=owner)
    digest = push_image("owner", "demo/team/app", "v1")
    push_image("owner", "demo/team/app", "v2")
    assert Artifact.objects.filter(repository__name="demo/team/app").count() == 2
    assert stored_manifest("demo/team/app", digest).status_code == 200

    response = client_for(owner).delete(repo_url("demo", "team/app"))
    assert response.status_code == 200, response.content
    assert not Repository.objects.filter(name="demo/team/app").exists()
    assert not Tag.objects.exists()
    assert stored_manifest("demo/team/app", digest).status_code == 404
    assert AuditLog.objects.filter(
        operation="delete", resource_type="repository", resource="demo/team/app"
    ).exists()


def test_delete_repository_permissions(world, client_for, make_user):
    guest = make_user("guest")
    world["demo"].members.create(user=guest, role=Role.GUEST)
    response = client_for(guest).delete(repo_url("demo", "web"))
    assert_harbor_error(response, 403)
    assert_matches("deleteRepository", response, 403)
    response = client_for(world["alice"]).delete(repo_url("demo", "web"))  # developer: no D
    assert_harbor_error(response, 403)
    response = client_for(world["alice"]).delete(repo_url("other", "secret"))
    assert_harbor_error(response, 404)
    assert_matches("deleteRepository", response, 404)
    assert Repository.objects.filter(name__in=["demo/web", "other/secret"]).count() == 2


def test_delete_missing_repository_is_404(world, admin, client_for):
    response = client_for(admin).delete(repo_url("demo", "ghost"))
    assert_harbor_error(response, 404)
    assert_matches("deleteRepository", response, 404)
