"""GET /api/v2.0/auditlog-exts/export: the filtered log as streamed CSV, with the visibility
rules of /auditlog-exts."""

from __future__ import annotations

import csv
import io

import pytest

from audit.api.views import EXPORT_COLUMNS
from audit.models import AuditLog
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db
URL = "/api/v2.0/auditlog-exts/export"


@pytest.fixture
def log(admin, make_project):
    demo, other = make_project("demo", owner=admin), make_project("other", owner=admin)
    for i, project in enumerate([demo, other, demo, other, demo]):
        AuditLog.objects.create(
            username="alice",
            project_id=project.pk,
            project_name=project.name,
            resource=f"{project.name}/app:{i}",
            resource_type="artifact",
            operation="pull" if i % 2 else "create",
            client_address="10.0.0.1",
        )
    return demo, other


def _rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == EXPORT_COLUMNS
    return list(reader)


def test_sysadmin_exports_a_filtered_query(admin, client_for, log):
    api = client_for(admin)
    rows = _rows(api.get(URL, {"q": "operation=create,resource=~app"}))
    assert [r["resource"] for r in rows] == ["demo/app:4", "demo/app:2", "demo/app:0"]
    first = rows[0]
    assert first["username"] == "alice" and first["project"] == "demo"
    assert first["operation_result"] == "success" and first["client_address"] == "10.0.0.1"
    assert first["op_time"].endswith("Z")
    oldest_first = _rows(api.get(URL, {"q": "resource=~app", "sort": "op_time"}))
    assert oldest_first[0]["resource"] == "demo/app:0" and len(oldest_first) == 5


def test_export_follows_visibility(make_user, client_for, anon_client, log):
    demo, _ = log
    project_admin, developer = make_user(), make_user()
    ProjectMember.objects.create(project=demo, user=project_admin, role=Role.PROJECT_ADMIN)
    ProjectMember.objects.create(project=demo, user=developer, role=Role.DEVELOPER)
    assert {r["project"] for r in _rows(client_for(project_admin).get(URL))} == {"demo"}
    assert _rows(client_for(developer).get(URL)) == []
    assert_harbor_error(anon_client.get(URL), 401)


def test_bad_queries_fail_before_streaming(admin, client_for):
    assert_harbor_error(client_for(admin).get(URL, {"q": "password=x"}), 400)
    response = client_for(admin).get(URL, {"sort": "nope"}, HTTP_ACCEPT="text/csv")
    assert_harbor_error(response, 400)


def test_accept_text_csv(admin, client_for, log):
    rows = _rows(client_for(admin).get(URL, {"q": "resource=~app"}, HTTP_ACCEPT="text/csv"))
    assert len(rows) == 5


def test_formulas_are_neutralised(admin, client_for):
    AuditLog.objects.create(
        username='=HYPERLINK("http://evil")',
        resource="+1",
        resource_type="user",
        operation="login",
        success=False,
        description="@SUM(A1)",
    )
    [row] = _rows(client_for(admin).get(URL, {"q": "operation=login,operation_result=false"}))
    assert row["username"].startswith("'=") and row["resource"] == "'+1"
    assert row["operation_description"] == "'@SUM(A1)" and row["operation_result"] == "failure"


def test_export_streams_many_rows(admin, client_for):
    AuditLog.objects.bulk_create(
        AuditLog(username="u", resource=f"r{i}", resource_type="tag", operation="create")
        for i in range(5000)
    )
    rows = _rows(client_for(admin).get(URL, {"q": "resource_type=tag"}))
    assert len(rows) == 5000 and len({r["id"] for r in rows}) == 5000
