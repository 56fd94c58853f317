"""Filters, sorting, pagination and the bounded X-Total-Count on /auditlog-exts and
/audit-logs (and the project views), with Harbor's visibility rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from audit import selectors
from audit.models import AuditLog
from projects.models import ProjectMember
from projects.roles import Role
from tests.contract import assert_matches

pytestmark = pytest.mark.django_db
ENDPOINTS = [
    ("/api/v2.0/auditlog-exts", "listAuditLogExts"),
    ("/api/v2.0/audit-logs", "listAuditLogs"),
]
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def log(admin, make_project):
    """12 entries of two projects, one per hour from T0, and a login without a project."""
    demo, other = make_project("demo", owner=admin), make_project("other", owner=admin)
    rows = []
    for i in range(12):
        project = demo if i % 2 == 0 else other
        rows.append(
            AuditLog(
                username="alice" if i < 6 else "bob",
                project_id=project.pk,
                project_name=project.name,
                resource=f"{project.name}/app:{i}",
                resource_type="artifact" if i % 3 else "tag",
                operation="pull" if i % 4 else "create",
                success=i != 5,
                op_time=T0 + dt.timedelta(hours=i),
            )
        )
    AuditLog.objects.bulk_create(rows)
    AuditLog.objects.create(
        username="carol", resource="carol", resource_type="user", operation="login", op_time=T0
    )
    return demo, other


def _get(api, url, **params):
    response = api.get(url, params)
    assert response.status_code == 200, response.content
    return response


def _resources(response) -> list[str]:
    return [e["resource"] for e in response.json()]


@pytest.mark.parametrize(("url", "operation_id"), ENDPOINTS)
def test_filters(admin, client_for, log, url, operation_id):
    api = client_for(admin)
    window = "op_time=[2026-03-01T12:00:00~2026-03-01T23:59:59]"

    def q(query: str) -> list[str]:
        response = _get(api, url, q=f"{window},{query}", page_size=100)
        assert_matches(operation_id, response)
        return _resources(response)

    assert q("operation=create") == ["demo/app:8", "demo/app:4", "demo/app:0"]
    assert q("resource_type=tag,operation=pull") == ["other/app:9", "demo/app:6", "other/app:3"]
    assert q("username=bob") == [
        f"{'demo' if i % 2 == 0 else 'other'}/app:{i}" for i in range(11, 5, -1)
    ]
    assert q("resource=~app:1") == ["other/app:11", "demo/app:10", "other/app:1"]
    assert q("username={alice carol},operation=login") == ["carol"]
    ranged = q("op_time=[2026-03-01T14:00:00~2026-03-01T16:00:00]")
    assert ranged == ["demo/app:4", "other/app:3", "demo/app:2"]
    assert q("resource=demo/app:2") == ["demo/app:2"]


def test_result_filter(admin, client_for, log):
    api = client_for(admin)
    url = "/api/v2.0/auditlog-exts"
    failed = _get(api, url, q="operation_result=false")
    assert _resources(failed) == ["other/app:5"]
    assert failed.json()[0]["operation_result"] is False


@pytest.mark.parametrize(("url", "_"), ENDPOINTS)
def test_sorting_and_pages(admin, client_for, log, url, _):
    api = client_for(admin)
    q = "op_time=[2026-03-01~2026-03-02]"
    first = _get(api, url, q=q, page=1, page_size=5)
    assert first["X-Total-Count"] == "13"
    assert _resources(first)[:2] == ["other/app:11", "demo/app:10"]
    assert 'rel="next"' in first["Link"] and 'rel="prev"' not in first["Link"]
    last = _get(api, url, q=q, page=3, page_size=5)
    assert len(last.json()) == 3 and 'rel="next"' not in last.get("Link", "")
    everything = []
    for page in (1, 2, 3):
        everything += _resources(_get(api, url, q=q, page=page, page_size=5))
    assert len(everything) == len(set(everything)) == 13

    oldest = _get(api, url, q=q, sort="op_time", page_size=2)
    assert _resources(oldest)[0] in {"demo/app:0", "carol"}
    by_user = _get(api, url, q=q, sort="username,-op_time", page_size=100).json()
    assert [e["username"] for e in by_user] == ["alice"] * 6 + ["bob"] * 6 + ["carol"]
    assert by_user[0]["resource"] == "other/app:5"


@pytest.mark.parametrize(
    "params",
    [{"q": "password=x"}, {"q": "op_time=~2026"}, {"sort": "resource"}, {"page": "0"}],
)
def test_bad_queries_are_400(admin, client_for, log, params):
    for url, _ in ENDPOINTS:
        assert client_for(admin).get(url, params).status_code == 400


def test_visibility(make_user, client_for, anon_client, log, make_group):
    demo, other = log
    project_admin = make_user("padmin")
    ProjectMember.objects.create(project=demo, user=project_admin, role=Role.PROJECT_ADMIN)
    group_admin = make_user("gadmin")
    group = make_group()
    group_admin.user_groups.add(group)
    ProjectMember.objects.create(project=other, group=group, role=Role.PROJECT_ADMIN)
    developer = make_user("dev")
    ProjectMember.objects.create(project=demo, user=developer, role=Role.DEVELOPER)
    for url, _ in ENDPOINTS:
        seen = _resources(_get(client_for(project_admin), url, page_size=100))
        assert seen and all(r.startswith("demo/") for r in seen)
        seen = _resources(_get(client_for(group_admin), url, page_size=100))
        assert seen and all(r.startswith("other/") for r in seen)
        assert _get(client_for(developer), url).json() == []
        assert anon_client.get(url).status_code == 401
    # the project views: ProjectAdmin yes, developer no
    assert _get(client_for(project_admin), "/api/v2.0/projects/demo/auditlog-exts").json()
    assert client_for(developer).get("/api/v2.0/projects/demo/logs").status_code == 403


def test_the_total_is_exact_up_to_the_bound_then_estimated(admin, client_for, log, monkeypatch):
    api = client_for(admin)
    q = "op_time=[2026-03-01~2026-03-02]"
    assert _get(api, "/api/v2.0/auditlog-exts", q=q)["X-Total-Count"] == "13"
    monkeypatch.setattr(selectors, "COUNT_EXACT_UP_TO", 5)
    first = _get(api, "/api/v2.0/auditlog-exts", q=q, page_size=5)
    assert int(first["X-Total-Count"]) >= 6  # beyond the bound: an estimate, never below it
    assert 'rel="next"' in first["Link"]
    # the estimate never hides entries that a page has shown
    third = _get(api, "/api/v2.0/auditlog-exts", q=q, page=3, page_size=5)
    assert len(third.json()) == 3 and int(third["X-Total-Count"]) >= 13


@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout")
def test_a_slow_count_gives_up_within_its_budget(log):
    slow = AuditLog.objects.extra(where=["pg_sleep(0.02) IS NOT NULL"])  # 20 ms per row
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    assert selectors._bounded_count(slow, 100, budget_ms=30) is None
    assert selectors.count_entries(slow, at_least=11, budget_ms=30) >= 11
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before  # restored, and the transaction still usable
    assert selectors._bounded_count(AuditLog.objects.all(), 100, budget_ms=1000) == 13


def test_default_order_uses_the_time_index(admin, log):
    """Page 1 of the newest entries: an index scan in (op_time, id) order, no sort."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans")
    entries = selectors.visible_entries(admin, q=None, sort=None)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = entries[:10].explain()
    assert "audit_log_time" in plan and "Sort" not in plan.split("Index")[0]


def test_project_view_uses_the_project_index(admin, log):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL plans")
    demo, _ = log
    entries = selectors.project_entries(demo.pk, q=None, sort=None)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = entries[:10].explain()
    assert "audit_log_project_time" in plan
