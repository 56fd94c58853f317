"""Forwarding to a real syslog receiver on loopback (TCP, RFC 6587 octet counting, RFC 5424):
after commit, in order, over one connection, and nothing lost while the receiver is down."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import TestCase
from django_celery_beat.models import PeriodicTask

from audit import forwarding
from audit.models import AuditLog, AuditOutbox
from audit.services import record
from harbor_py.celery import app
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from projects.services import create_project
from registry import pulls
from tests.distribution import bearer
from tests.integration.registry_data import image
from tests.integration.test_audit_recording import _pull
from tests.syslog_receiver import SyslogReceiver, parse_message, split_frames

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = SyslogReceiver().start()
    yield server
    server.stop()
    forwarding.sender.close()


@pytest.fixture
def forwarded(receiver):
    configuration.store({"audit_log_forward_endpoint": receiver.endpoint})
    return receiver


def _entry(i: int, **extra) -> None:
    record(
        actor=Actor(username="alice"),
        operation="create",
        resource_type="tag",
        resource=f"demo/app:{i}",
        **extra,
    )


def test_an_entry_is_forwarded_after_commit(admin, forwarded):
    with TestCase.captureOnCommitCallbacks(execute=True):
        create_project(owner=admin, name="demo", actor=Actor.of_user(admin))
        assert forwarded.messages == []  # nothing leaves before the commit
    [message] = forwarded.wait_for(1)
    entry = AuditLog.objects.get(resource="demo")
    assert (message.version, message.facility, message.severity) == (1, 13, 6)
    assert message.app == "harbor-py" and message.procid == "-"
    assert message.msgid == "create_project"
    assert message.sd_id == "audit@32473"
    assert message.params == {
        "id": str(entry.pk),
        "user": "admin",
        "operation": "create",
        "resource_type": "project",
        "resource": "demo",
        "project": "demo",
        "result": "success",
        "client": "",
        "description": "",
    }
    sent = dt.datetime.fromisoformat(message.timestamp.replace("Z", "+00:00"))
    assert sent == entry.op_time and message.timestamp.endswith("Z")
    assert message.text == "admin create project demo"
    assert not AuditOutbox.objects.exists()


def test_failures_are_warnings_and_values_are_escaped(forwarded):
    record(
        actor=Actor(username="ghost"),
        operation="login",
        resource_type="user",
        resource='we"ird]\\name',
        success=False,
        description="invalid username or password",
    )
    forwarding.drain()
    [message] = forwarded.wait_for(1)
    assert message.severity == 4 and message.params["result"] == "failure"
    assert message.params["resource"] == 'we"ird]\\name'
    assert message.text.endswith("(failed)")


def test_batches_go_in_order_over_one_connection(forwarded, monkeypatch):
    monkeypatch.setattr(forwarding, "BATCH", 50)
    for i in range(120):
        _entry(i)
    assert forwarding.drain() == 120
    for i in range(120, 130):
        _entry(i)
    assert forwarding.drain() == 10
    messages = forwarded.wait_for(130)
    assert [m.params["resource"] for m in messages] == [f"demo/app:{i}" for i in range(130)]
    ids = [int(m.params["id"]) for m in messages]
    assert ids == sorted(ids)
    assert forwarded.connections == 1
    assert not AuditOutbox.objects.exists()


def test_nothing_is_lost_while_the_receiver_is_down(forwarded):
    _entry(0)
    assert forwarding.drain() == 1
    forwarded.wait_for(1)
    forwarded.stop()  # down: the open connection is closed and nobody listens
    for i in range(1, 4):
        _entry(i)
    assert forwarding.drain() == 0
    assert forwarding.drain() == 0
    assert AuditOutbox.objects.count() == 3
    assert AuditLog.objects.filter(resource_type="tag").count() == 4  # the log itself is intact
    assert cache.get(forwarding.KICK_KEY)  # commits do not retry at once; beat does

    forwarded.start()  # back, on the same port
    _entry(4)
    assert forwarding.drain() == 4
    messages = forwarded.wait_for(5)
    assert [m.params["resource"] for m in messages] == [f"demo/app:{i}" for i in range(5)]
    assert forwarded.connections == 2
    assert not AuditOutbox.objects.exists()


def test_forwarding_off_keeps_entries_pending(receiver):
    _entry(0)  # no endpoint: no outbox entry
    assert not AuditOutbox.objects.exists()
    configuration.store({"audit_log_forward_endpoint": receiver.endpoint})
    _entry(1)
    configuration.store({"audit_log_forward_endpoint": ""})
    assert forwarding.drain() == 0
    assert AuditOutbox.objects.count() == 1
    configuration.store({"audit_log_forward_endpoint": receiver.endpoint})
    assert forwarding.drain() == 1
    assert [m.params["resource"] for m in receiver.wait_for(1)] == ["demo/app:1"]


def test_skip_database_still_forwards(forwarded):
    configuration.store({"skip_audit_log_database": True})
    entry = record(
        actor=Actor(username="bob"), operation="delete", resource_type="tag", resource="x/y:1"
    )
    assert entry is not None and entry.pk is None
    assert not AuditLog.objects.exists()
    forwarding.drain()
    [message] = forwarded.wait_for(1)
    assert message.params["id"] == "" and message.params["user"] == "bob"


def test_skip_database_without_an_endpoint_is_ignored(db):
    configuration.store({"skip_audit_log_database": True})
    _entry(0)
    assert AuditLog.objects.count() == 1


def test_pulls_are_forwarded_too(forwarded, make_project):
    artifact = image(make_project("demo"), "app", "v1")
    AuditOutbox.objects.all().delete()
    _pull(artifact, None, bearer("alice", "demo/app", {"pull"}))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert pulls.aggregate()["audit"] == 1
    [message] = forwarded.wait_for(1)
    assert message.msgid == "pull_artifact"
    assert message.params["user"] == "alice"
    assert message.params["client"] == "198.51.100.4"


def test_pulls_forwarded_only(forwarded, make_project):
    configuration.store({"skip_audit_log_database": True})
    artifact = image(make_project("demo"), "app", "v1")
    AuditOutbox.objects.all().delete()
    _pull(artifact, None, None)
    assert pulls.aggregate()["audit"] == 1
    assert not AuditLog.objects.filter(operation="pull").exists()
    assert forwarding.drain() == 1
    assert forwarded.wait_for(1)[0].params["user"] == "anonymous"


def test_invalid_endpoints_are_refused(admin, client_for):
    api = client_for(admin)
    for bad in ("nohost", "host:notaport", "host:70000", "udp://host:514", "host:514/path"):
        response = api.put(
            "/api/v2.0/configurations", {"audit_log_forward_endpoint": bad}, format="json"
        )
        assert response.status_code == 400, bad
    for good in ("syslog.example.com:514", "[::1]:6514", "tcp://10.0.0.1:514", ""):
        response = api.put(
            "/api/v2.0/configurations", {"audit_log_forward_endpoint": good}, format="json"
        )
        assert response.status_code == 200, good


def test_beat_runs_the_forwarder():
    task = PeriodicTask.objects.get(name="harbor: forward audit log")
    assert task.task == "audit.tasks.forward_audit_log" and task.enabled
    assert task.interval.every == 10 and task.interval.period == "seconds"
    app.loader.import_default_modules()
    assert "audit.tasks.forward_audit_log" in app.tasks


def test_framing_round_trip():
    payload = {
        "id": 7,
        "event_type": "create_user",
        "username": "ünïcode",
        "operation": "create",
        "resource_type": "user",
        "resource": "ünïcode",
        "success": True,
        "op_time": "2026-01-02T03:04:05.123456+00:00",
    }
    message = forwarding.format_message(payload, hostname="h")
    buffer = bytearray(forwarding.frame(message) * 2 + b"12 partial")
    frames = split_frames(buffer)
    assert frames == [message, message] and buffer == b"12 partial"
    parsed = parse_message(frames[0])
    assert parsed.timestamp == "2026-01-02T03:04:05.123456Z"
    assert parsed.params["user"] == "ünïcode"
    assert int(forwarding.frame(message).split(b" ", 1)[0]) == len(message)
