"""A change and its audit entry commit together or not at all: no change without its entry,
no entry without its change (also for the forwarding outbox)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection

from accounts import services as account_services
from audit.models import AuditLog, AuditOutbox
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from projects import services as project_services
from projects.models import Project, ProjectMember
from registry import label_services
from registry.models import Label

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def _explode(*args, **kwargs):
    raise Boom("the audit write failed")


@pytest.fixture(params=["database", "forwarded", "forwarded only"])
def storage(request):
    """Run each case with the entry in the database, also forwarded, and forwarded only."""
    if request.param != "database":
        configuration.store({"audit_log_forward_endpoint": "127.0.0.1:9"})
    if request.param == "forwarded only":
        configuration.store({"skip_audit_log_database": True})
    return request.param


def _traces() -> int:
    return AuditLog.objects.count() + AuditOutbox.objects.count()


def test_no_change_without_its_entry(admin, monkeypatch, storage):
    monkeypatch.setattr(project_services, "record", _explode)
    with pytest.raises(Boom):
        project_services.create_project(owner=admin, name="never", actor=Actor.of_user(admin))
    assert not Project.objects.filter(name="never").exists()
    assert not ProjectMember.objects.filter(project__name="never").exists()


def test_no_change_when_the_database_refuses_the_entry(admin):
    """The entry insert itself fails in PostgreSQL (as a full disk or a constraint would):
    a trigger, dropped with the test's transaction, refuses every new audit row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'could not extend file'; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"
        )
    with pytest.raises(DatabaseError, match="could not extend file"):
        account_services.create_user(
            username="zoe",
            email="zoe@example.com",
            password="Harbor12345",
            actor=Actor(username="admin"),
        )
    assert not account_services.User.objects.filter(username="zoe").exists()


def test_no_entry_without_its_change_member(admin, make_user, monkeypatch, storage):
    """delete_member records first, then deletes: the delete fails, the entry goes too."""
    project = project_services.create_project(owner=admin, name="kept", actor=Actor.of_user(admin))
    member = project_services.add_member(
        project=project, role=2, user=make_user("dev"), actor=Actor(username="admin")
    )
    before = _traces()
    monkeypatch.setattr(ProjectMember, "delete", _explode)
    with pytest.raises(Boom):
        project_services.delete_member(member=member, actor=Actor(username="admin"))
    assert ProjectMember.objects.filter(pk=member.pk).exists()
    assert _traces() == before
    assert not AuditLog.objects.filter(operation="delete", resource_type="project_member").exists()


def test_no_entry_without_its_change_label(admin, monkeypatch, storage):
    label = label_services.create_label(
        name="red", scope="g", project=None, actor=Actor(username="admin")
    )
    before = _traces()
    monkeypatch.setattr(Label, "delete", _explode)
    with pytest.raises(Boom):
        label_services.delete_label(label=label, actor=Actor(username="admin"))
    assert Label.objects.filter(pk=label.pk).exists()
    assert _traces() == before


def test_no_entry_when_a_later_step_of_the_change_fails(admin, monkeypatch, storage):
    """update_project writes the row, then the entry; a failure after record() (here in
    the last step of the service) rolls both back."""
    project = project_services.create_project(owner=admin, name="meta", actor=Actor.of_user(admin))
    before = _traces()
    real = project_services._record_project

    def record_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        assert _traces() == before + (2 if storage == "forwarded" else 1)
        raise Boom("failed after the entry was written")

    monkeypatch.setattr(project_services, "_record_project", record_then_fail)
    with pytest.raises(Boom):
        project_services.update_project(
            project=project, metadata={"public": "true"}, actor=Actor(username="a")
        )
    assert Project.objects.get(pk=project.pk).public is False
    assert _traces() == before


def test_the_api_answers_500_and_keeps_nothing(admin, client_for, monkeypatch):
    monkeypatch.setattr(project_services, "record", _explode)
    api = client_for(admin)
    api.raise_request_exception = False
    before = AuditLog.objects.count()
    response = api.post("/api/v2.0/projects", {"project_name": "api-never"}, format="json")
    assert response.status_code == 500
    assert not Project.objects.filter(name="api-never").exists()
    # the login of this request is its own, committed, entry; the change left none
    assert not AuditLog.objects.filter(resource="api-never").exists()
    assert AuditLog.objects.count() - before <= 1
