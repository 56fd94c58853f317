"""The audit log names the Actor that a surface builds from its request: a UI view (name
and client address; no request context variable is left to fall back on) and the /v2 gate
(the token's subject, and the robot account when the subject is one). Needs the database."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Robot
from audit.models import AuditLog
from harbor_py.core.actor import Actor
from registry import push, services
from tests.distribution import bearer, push_image

pytest_plugins = ["tests.distribution_plugin"]


@pytest.mark.django_db
def test_changes_through_the_ui_carry_the_caller_and_address(make_user):
    alice = make_user("alice")
    browser = Client(HTTP_X_REAL_IP="198.51.100.23")
    browser.force_login(alice)
    created = browser.post("/projects/new", {"project_name": "viaui"})
    assert created.status_code == 302
    entry = AuditLog.objects.get(resource="viaui", operation="create")
    assert (entry.username, entry.client_address) == ("alice", "198.51.100.23")
    browser.post("/projects/viaui/delete")
    deleted = AuditLog.objects.get(resource="viaui", operation="delete")
    assert (deleted.username, deleted.client_address) == ("alice", "198.51.100.23")


@pytest.mark.django_db
def test_gate_writes_carry_the_robot_that_the_token_names(
    distribution, make_user, make_project, monkeypatch
):
    project = make_project("demo", owner=make_user("owner"))
    robot = Robot.objects.create(
        name="robot$demo+ci", secret="x", level=Robot.Level.PROJECT, project=project
    )
    audited: list[Actor] = []
    for module in (push, services):  # what the gate's writes audit with
        monkeypatch.setattr(
            module,
            "record",
            lambda record=module.record, **entry: audited.append(entry["actor"]) or record(**entry),
        )

    push_image("robot$demo+ci", "demo/app", "v1", layers=1)
    push_image("owner", "demo/app", "v2", layers=1)
    deleted = Client().delete(
        "/v2/demo/app/manifests/v1",
        HTTP_AUTHORIZATION=bearer("robot$demo+ci", "demo/app", {"delete"}),
        HTTP_X_REAL_IP="198.51.100.7",
    )

    assert deleted.status_code == 202, deleted.content
    assert [(a.username, a.robot_id) for a in audited] == [
        ("robot$demo+ci", robot.pk),  # the push
        ("owner", None),
        ("robot$demo+ci", robot.pk),  # the tag's deletion
    ]
    entries = AuditLog.objects.filter(resource_type__in=["artifact", "tag"]).order_by("pk")
    assert [(e.operation, e.resource_type, e.username) for e in entries] == [
        ("create", "artifact", "robot$demo+ci"),
        ("create", "artifact", "owner"),
        ("delete", "tag", "robot$demo+ci"),
    ]
    assert entries.last().client_address == "198.51.100.7"
