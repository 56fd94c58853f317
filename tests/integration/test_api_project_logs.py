"""GET /projects/{name}/logs and /auditlog-exts (the project group's audit views)."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.services import create_project
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(admin):
    return create_project(owner=admin, name="logged")


def test_project_admin_reads_the_project_log(project, admin, client_for):
    response = client_for(admin).get(f"/api/v2.0/projects/{project.name}/logs")
    assert_matches("getLogs", response, 200)
    assert response.json()[0]["resource"] == "logged"
    ext = client_for(admin).get(f"/api/v2.0/projects/{project.name}/auditlog-exts")
    assert_matches("getLogExts", ext, 200)
    assert ext.json()[0]["operation_result"] is True
    assert ext["X-Total-Count"] == str(AuditLog.objects.filter(project_id=project.pk).count())


def test_filters_and_sort(project, admin, client_for):
    for i in range(3):
        AuditLog.objects.create(
            username=f"u{i}",
            project_id=project.pk,
            project_name=project.name,
            resource=f"logged/app:{i}",
            resource_type="artifact",
            operation="pull",
        )
    api = client_for(admin)
    pulls = api.get(
        f"/api/v2.0/projects/{project.name}/logs", {"q": "operation=pull", "sort": "username"}
    )
    assert [e["username"] for e in pulls.json()] == ["u0", "u1", "u2"]
    fuzzy = api.get(f"/api/v2.0/projects/{project.name}/logs", {"q": "resource=~app:1"})
    assert [e["resource"] for e in fuzzy.json()] == ["logged/app:1"]
    ranged = api.get(
        f"/api/v2.0/projects/{project.name}/logs", {"q": "op_time=[2000-01-01~2999-01-01]"}
    )
    assert len(ranged.json()) == 4


@pytest.mark.parametrize(
    "params",
    [{"q": "nosuchkey=1"}, {"q": "op_time=[yesterday~]"}, {"sort": "password"}, {"q": "operation"}],
)
def test_bad_filters_are_400(project, admin, client_for, params):
    response = client_for(admin).get(f"/api/v2.0/projects/{project.name}/logs", params)
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert_matches("getLogs", response)


@pytest.mark.parametrize("role", [2, 3, 4, 5])
def test_only_project_admins_read_logs(project, make_user, client_for, role):
    from projects.models import ProjectMember

    member = make_user()
    ProjectMember.objects.create(project=project, user=member, role=role)
    assert_harbor_error(client_for(member).get(f"/api/v2.0/projects/{project.name}/logs"), 403)


def test_private_project_log_is_invisible(project, make_user, client_for, anon_client):
    assert_harbor_error(client_for(make_user()).get(f"/api/v2.0/projects/{project.name}/logs"), 404)
    assert_harbor_error(anon_client.get(f"/api/v2.0/projects/{project.name}/logs"), 404)
