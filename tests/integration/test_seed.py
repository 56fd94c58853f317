"""manage.py seed (Harbor's "small" performance data set), with tiny numbers: what it
writes, that the API lists show it, and that the lists the bench measures (bench/bench_api.py)
answer a page in as many queries for a small seed as for a larger one."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Artifact, ArtifactBlob, ArtifactLabel, Label, Repository, Tag
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed", stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def dev(make_user):
    return make_user("dev")


def test_seed_writes_the_requested_counts(admin, dev):
    out = seed(projects=3, repositories=4, artifacts=2, tags=3, labels=2, member="dev")
    assert "done: 3 projects seeded" in out
    projects = Project.objects.filter(name__startswith="perf").order_by("name")
    assert [(p.name, p.public) for p in projects] == [
        ("perf0000", True),
        ("perf0001", False),
        ("perf0002", True),
    ]
    assert Repository.objects.count() == 3 * 4
    assert Artifact.objects.count() == 3 * 4 * 2
    assert Tag.objects.count() == 3 * 4 * 2 * 3
    assert ArtifactBlob.objects.count() == 3 * 4 * 2
    assert Label.objects.filter(scope="g", name__startswith="perf-label-").count() == 2
    assert ArtifactLabel.objects.count() == 3 * 4 * 2 * 2
    roles = set(ProjectMember.objects.values_list("project__name", "user__username", "role"))
    assert roles == {
        (p, user, role)
        for p in ("perf0000", "perf0001", "perf0002")
        for user, role in (("admin", Role.PROJECT_ADMIN), ("dev", Role.DEVELOPER))
    }
    first, second = Artifact.objects.filter(repository__name="perf0001/repo003").order_by(
        "push_time"
    )
    assert first.push_time < second.push_time  # the default sort (-push_time) is meaningful
    assert first.digest.startswith("sha256:") and len(first.digest) == 71
    assert first.extra_attrs == {"architecture": "amd64", "os": "linux"}
    assert sorted(first.tags.values_list("repository_id", flat=True)) == [first.repository_id] * 3


def test_seed_skips_projects_that_exist(admin):
    seed(projects=2, repositories=1, artifacts=1, tags=1)
    out = seed(projects=3, repositories=1, artifacts=1, tags=1)
    assert "skipped 2 projects" in out and "done: 1 projects seeded" in out
    assert Project.objects.filter(name__startswith="perf").count() == 3
    assert Artifact.objects.count() == 3


def test_seed_analyzes_the_tables_unless_told_not_to(admin):
    """--no-analyze leaves the planner as a new database with autovacuum off has it
    (bench/bench_api.py --no-statistics)."""
    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE is PostgreSQL's")

    def analyzed(**options) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            seed(**options)
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]

    assert analyzed(projects=1, repositories=1, artifacts=1, tags=1, no_analyze=True) == []
    assert "ANALYZE artifact" in analyzed(projects=2, repositories=1, artifacts=1, tags=1)


def test_seed_needs_existing_users(admin):
    with pytest.raises(CommandError, match="nobody"):
        seed(projects=1, member="nobody")
    assert not Project.objects.exists()


def test_seeded_data_shows_up_in_the_api_lists(admin, dev, client_for):
    seed(projects=2, repositories=3, artifacts=2, tags=2, member="dev")
    for user in (admin, dev):
        client = client_for(user)
        response = client.get("/api/v2.0/projects", {"page_size": 10})
        body = check("listProjects", response, 200)
        assert response["X-Total-Count"] == "2"
        assert [(p["name"], p["repo_count"]) for p in body] == [("perf0000", 3), ("perf0001", 3)]
        if user is dev:
            assert {p["current_user_role_id"] for p in body} == {Role.DEVELOPER}

        response = client.get("/api/v2.0/projects/perf0001/repositories", {"page_size": 10})
        body = check("listRepositories", response, 200)
        assert sorted(r["name"] for r in body) == [f"perf0001/repo00{i}" for i in range(3)]
        assert {r["artifact_count"] for r in body} == {2}

        response = client.get("/api/v2.0/repositories", {"page_size": 10})
        check("listAllRepositories", response, 200)
        assert response["X-Total-Count"] == "6"

        url = "/api/v2.0/projects/perf0001/repositories/repo002/artifacts"
        params = {"with_tag": "true", "with_label": "true", "page_size": 10}
        body = check("listArtifacts", client.get(url, params), 200)
        assert len(body) == 2
        assert body[0]["push_time"] > body[1]["push_time"]
        for artifact in body:
            assert len(artifact["tags"]) == 2
            assert [label["name"] for label in artifact["labels"]] == ["perf-label-0"]

        body = check("search", client.get("/api/v2.0/search", {"q": "repo001"}), 200)
        assert sorted(r["repository_name"] for r in body["repository"]) == [
            "perf0000/repo001",
            "perf0001/repo001",
        ]
        assert {r["artifact_count"] for r in body["repository"]} == {2}


# The calls of bench/bench_api.py, with every page as full as the data allows.
BENCH_CALLS = {
    "listProjects": ("/api/v2.0/projects", {"page_size": 100}),
    "listRepositories": ("/api/v2.0/projects/{p}0001/repositories", {"page_size": 100}),
    "listArtifacts": (
        "/api/v2.0/projects/{p}0001/repositories/repo001/artifacts",
        {"with_tag": "true", "with_label": "true", "page_size": 100},
    ),
    "listAllRepositories": ("/api/v2.0/repositories", {"page_size": 100}),
    "search": ("/api/v2.0/search", {"q": "repo00"}),
}


def _query_counts(clients, prefix: str) -> dict[tuple[str, str], tuple[int, int]]:
    """{(user, call): (queries, items on the page)}"""
    counts = {}
    for username, client in clients.items():
        client.get("/api/v2.0/projects")  # warm the credential cache
        for call, (url, params) in BENCH_CALLS.items():
            with CaptureQueriesContext(connection) as queries:
                body = check(call, client.get(url.format(p=prefix), params), 200)
            found = body["repository"] + body["project"] if call == "search" else body
            counts[(username, call)] = (len(queries), len(found))
    return counts


def test_bench_calls_answer_in_a_bounded_number_of_queries(admin, dev, client_for):
    clients = {"admin": client_for(admin), "dev": client_for(dev)}
    seed(prefix="small", projects=2, repositories=2, artifacts=1, tags=1, member="dev")
    small = _query_counts(clients, "small")
    seed(prefix="large", projects=6, repositories=8, artifacts=6, tags=4, labels=3, member="dev")
    large = _query_counts(clients, "large")
    for key, (queries, items) in small.items():
        assert large[key][1] > items, (key, "the large data set should fill a larger page")
        assert large[key][0] == queries, (key, small, large)
