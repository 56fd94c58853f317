"""GET /audit-logs, /auditlog-exts and /auditlog-exts/events: who sees which entries."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.models import ProjectMember
from projects.services import create_project
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_projects(admin, make_user):
    owner = make_user()
    mine = create_project(owner=owner, name="mine")
    other = create_project(owner=admin, name="other")
    return owner, mine, other


def test_sysadmin_sees_everything(admin, client_for, two_projects):
    response = client_for(admin).get("/api/v2.0/auditlog-exts", {"page_size": 100})
    assert_matches("listAuditLogExts", response, 200)
    resources = {e["resource"] for e in response.json()}
    assert {"mine", "other"} <= resources
    legacy = client_for(admin).get("/api/v2.0/audit-logs")
    assert_matches("listAuditLogs", legacy, 200)


def test_project_admin_sees_only_their_projects(client_for, two_projects):
    owner, _, _ = two_projects
    response = client_for(owner).get("/api/v2.0/auditlog-exts", {"page_size": 100})
    assert {e["resource"] for e in response.json()} == {"mine"}


def test_developers_and_anonymous_see_nothing(make_user, client_for, anon_client, two_projects):
    _, mine, _ = two_projects
    developer = make_user()
    ProjectMember.objects.create(project=mine, user=developer, role=2)
    assert client_for(developer).get("/api/v2.0/auditlog-exts").json() == []
    assert_harbor_error(anon_client.get("/api/v2.0/auditlog-exts"), 401)


def test_filters_by_username_operation_and_time(admin, client_for, two_projects):
    AuditLog.objects.create(
        username="alice", resource="x/y:1", resource_type="artifact", operation="pull"
    )
    api = client_for(admin)
    found = api.get("/api/v2.0/auditlog-exts", {"q": "username=alice,operation=pull"}).json()
    assert [e["username"] for e in found] == ["alice"]
    none = api.get("/api/v2.0/auditlog-exts", {"q": "op_time=[2000-01-01~2000-01-02]"}).json()
    assert none == []
    assert_harbor_error(api.get("/api/v2.0/auditlog-exts", {"q": "password=x"}), 400)


def test_event_types(admin, client_for):
    response = client_for(admin).get("/api/v2.0/auditlog-exts/events")
    assert_matches("listAuditLogEventTypes", response, 200)
    names = {e["event_type"] for e in response.json()}
    assert {"create_artifact", "delete_artifact", "pull_artifact", "login_user"} <= names


def test_entries_cannot_be_changed_through_the_api(admin, client_for, two_projects):
    entry = AuditLog.objects.first()
    api = client_for(admin)
    for method in (api.put, api.patch, api.delete):
        response = method(f"/api/v2.0/auditlog-exts/{entry.pk}", {}, format="json")
        assert response.status_code in (404, 405)
        assert_harbor_error(response, response.status_code)
    assert AuditLog.objects.filter(pk=entry.pk).exists()
