"""GET /search and GET /statistics: only what the caller may see."""

from __future__ import annotations

import pytest

from projects.roles import Role
from registry.models import Artifact, Blob, Repository
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user, make_project, make_group):
    """alice is a member of shop-private (directly) and ops-private (by group);
    shop-public is public; hidden-private belongs to nobody she knows."""
    alice, carl = make_user("alice"), make_user("carl")
    group = make_group()
    alice.user_groups.add(group)
    projects = {
        "shop-private": make_project("shop-private", members={alice: Role.GUEST}),
        "shop-public": make_project("shop-public", public=True),
        "ops-private": make_project("ops-private"),
        "hidden-private": make_project("hidden-private", members={carl: Role.GUEST}),
    }
    projects["ops-private"].members.create(group=group, role=Role.DEVELOPER)
    repos = {}
    for name, project in projects.items():
        repos[name] = Repository.objects.create(project=project, name=f"{name}/shop-app")
    repos["shop-public"].pull_count = 7
    repos["shop-public"].save()
    for i in range(2):
        Artifact.objects.create(
            repository=repos["shop-public"],
            digest=f"sha256:{i:064x}",
            media_type="application/vnd.oci.image.config.v1+json",
            manifest_media_type="application/vnd.oci.image.manifest.v1+json",
            size=10,
        )
    return {"alice": alice, "projects": projects}


def search(client, q: str) -> dict:
    return check("search", client.get("/api/v2.0/search", {"q": q}), 200)


def test_search_as_member(client_for, world):
    body = search(client_for(world["alice"]), "shop")
    assert [p["name"] for p in body["project"]] == ["shop-private", "shop-public"]
    assert [r["repository_name"] for r in body["repository"]] == [
        "ops-private/shop-app",
        "shop-private/shop-app",
        "shop-public/shop-app",
    ]
    private = body["project"][0]
    assert private["current_user_role_id"] == 3 and private["repo_count"] == 1
    public_repo = body["repository"][2]
    assert public_repo == {
        "project_id": world["projects"]["shop-public"].pk,
        "project_name": "shop-public",
        "project_public": True,
        "repository_name": "shop-public/shop-app",
        "pull_count": 7,
        "artifact_count": 2,
    }


def test_search_as_anonymous_and_sysadmin(anon_client, admin, client_for, world):
    body = search(anon_client, "shop")
    assert [p["name"] for p in body["project"]] == ["shop-public"]
    assert [r["repository_name"] for r in body["repository"]] == ["shop-public/shop-app"]
    body = search(client_for(admin), "private")
    assert [p["name"] for p in body["project"]] == ["hidden-private", "ops-private", "shop-private"]
    assert len(body["repository"]) == 3


def test_search_without_matches(client_for, world):
    assert search(client_for(world["alice"]), "zzz") == {"project": [], "repository": []}


def test_search_needs_q(client_for, world):
    response = client_for(world["alice"]).get("/api/v2.0/search")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BAD_REQUEST"


def test_search_query_count_does_not_grow(
    make_user, make_project, client_for, django_assert_max_num_queries
):
    viewer = make_user()
    client = client_for(viewer)
    make_project("app-0", members={viewer: Role.GUEST})
    client.get("/api/v2.0/search", {"q": "app"})
    with django_assert_max_num_queries(10) as small:
        search(client, "app")
    for i in range(1, 25):
        project = make_project(f"app-{i}", public=i % 3 == 0, members={viewer: Role.DEVELOPER})
        for j in range(2):
            Repository.objects.create(project=project, name=f"app-{i}/app{j}")
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = search(client, "app")
    assert len(body["project"]) == 25 and len(body["repository"]) == 48


# --- statistics ----------------------------------------------------------------------------------


def test_statistics_for_a_member(client_for, world):
    body = check("getStatistic", client_for(world["alice"]).get("/api/v2.0/statistics"), 200)
    assert body == {
        "private_project_count": 2,
        "private_repo_count": 2,
        "public_project_count": 1,
        "public_repo_count": 1,
        "total_project_count": 0,
        "total_repo_count": 0,
        "total_storage_consumption": 0,
    }


def test_statistics_for_a_sysadmin(admin, client_for, world):
    Blob.objects.create(digest="sha256:" + "a" * 64, size=1000)
    Blob.objects.create(digest="sha256:" + "b" * 64, size=234)
    body = check("getStatistic", client_for(admin).get("/api/v2.0/statistics"), 200)
    assert body == {
        "private_project_count": 3,
        "private_repo_count": 3,
        "public_project_count": 1,
        "public_repo_count": 1,
        "total_project_count": 4,
        "total_repo_count": 4,
        "total_storage_consumption": 1234,
    }


def test_statistics_without_blobs_is_zero(admin, client_for):
    body = check("getStatistic", client_for(admin).get("/api/v2.0/statistics"), 200)
    assert body["total_storage_consumption"] == 0


def test_statistics_needs_authentication(anon_client):
    check("getStatistic", anon_client.get("/api/v2.0/statistics"), 401, "UNAUTHORIZED")
