"""harbor_py.core.actor.Actor: built once per request by each surface and passed to the
services; the audit log records its name and address (there is no request context
variable any more to fall back on)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory

from accounts.models import Robot
from accounts.robots import RobotUser
from audit.models import AuditLog
from harbor_py.core.actor import Actor


def test_of_request_names_the_caller_and_its_address():
    request = RequestFactory().get("/", HTTP_X_REAL_IP="192.0.2.7")
    request.user = RobotUser(Robot(pk=41, name="robot$ci"))
    assert Actor.of_request(request) == Actor(
        username="robot$ci", user_id=None, client_address="192.0.2.7", robot_id=41
    )
    request.user = AnonymousUser()
    anonymous = Actor.of_request(request)
    assert (anonymous.username, anonymous.user_id, anonymous.robot_id) == ("", None, None)
    assert not anonymous.is_system and Actor.system("harbor-gc").is_system


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
