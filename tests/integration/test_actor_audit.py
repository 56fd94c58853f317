"""The audit log names the Actor that a UI view builds from its request: name and client
address (no request context variable is left to fall back on). Needs the database."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog


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
