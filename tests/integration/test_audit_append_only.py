"""Entries are never edited or deleted, except by the purge job: no API route does it, and
on PostgreSQL the database refuses it too (trigger of migration audit 0002)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import purge
from audit.models import AuditLog
from jobs import runner
from jobs.models import Execution, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(db) -> AuditLog:
    return AuditLog.objects.create(
        username="alice", resource="p", resource_type="project", operation="create"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2.0/auditlog-exts/{id}",
        "/api/v2.0/audit-logs/{id}",
        "/api/v2.0/auditlog-exts",
        "/api/v2.0/audit-logs",
        "/api/v2.0/projects/p/logs",
        "/api/v2.0/projects/p/auditlog-exts",
        "/api/v2.0/auditlog-exts/export",
    ],
)
def test_no_route_edits_or_deletes_entries(admin, client_for, make_project, entry, path):
    make_project("p", owner=admin)
    api = client_for(admin)
    url = path.format(id=entry.pk)
    for method in (api.post, api.put, api.patch, api.delete):
        response = method(url, {"username": "mallory"}, format="json")
        assert response.status_code in (404, 405), (method, url, response.status_code)
    entry.refresh_from_db()
    assert entry.username == "alice"


needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


@needs_postgres
def test_the_database_refuses_updates(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=entry.pk).update(username="mallory")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.username = "mallory"
        entry.save()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_log SET success = false")
    entry.refresh_from_db()
    assert entry.username == "alice" and entry.success


@needs_postgres
def test_the_database_refuses_deletes_outside_the_purge(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_log")
    assert AuditLog.objects.filter(pk=entry.pk).exists()
    # the purge's switch is local to its transaction
    assert purge.delete_entries([entry.pk]) == 1
    other = AuditLog.objects.create(username="b", resource="r", resource_type="t", operation="o")
    with pytest.raises(DatabaseError), transaction.atomic():
        other.delete()


def _old(count: int, hours: float = 48) -> list[int]:
    when = timezone.now() - dt.timedelta(hours=hours)
    return [
        AuditLog.objects.create(
            username="u", resource=f"r{i}", resource_type="artifact", operation="pull", op_time=when
        ).pk
        for i in range(count)
    ]


def test_purge_deletes_in_batches(monkeypatch, admin, client_for):
    monkeypatch.setattr(purge, "BATCH", 2)
    batches: list[int] = []
    real = purge.delete_entries

    def counting(ids):
        batches.append(len(ids))
        return real(ids)

    monkeypatch.setattr(purge, "delete_entries", counting)
    old = _old(5)
    fresh = _old(1, hours=1)
    api = client_for(admin)
    response = api.post(
        "/api/v2.0/system/purgeaudit/schedule",
        {"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": 24}},
        format="json",
    )
    execution = Execution.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))
    runner.run(execution.tasks.get().pk)
    execution.refresh_from_db()
    assert execution.status == Status.SUCCESS
    assert execution.extra_attrs == {"purged": 5}
    assert batches == [2, 2, 1]
    assert not AuditLog.objects.filter(pk__in=old).exists()
    assert AuditLog.objects.filter(pk__in=fresh).exists()
    log = api.get(f"/api/v2.0/system/purgeaudit/{execution.pk}/log").content.decode()
    assert "5 entries deleted" in log


def test_a_stopped_purge_keeps_the_rest(monkeypatch, admin):
    monkeypatch.setattr(purge, "BATCH", 2)
    _old(5)
    from jobs.services import request_stop, start_execution

    execution = start_execution(
        vendor_type="PURGE_AUDIT_LOG", parameters={"audit_retention_hour": 24}
    )
    calls = {"n": 0}
    real = runner.JobContext.should_stop

    def stop_after_first_batch(self):
        calls["n"] += 1
        if calls["n"] == 2:
            request_stop(Execution.objects.get(pk=self.execution_id))
        return real(self)

    monkeypatch.setattr(runner.JobContext, "should_stop", stop_after_first_batch)
    runner.run(execution.tasks.get().pk)
    execution.refresh_from_db()
    assert execution.status == Status.STOPPED
    assert AuditLog.objects.filter(operation="pull").count() == 3
