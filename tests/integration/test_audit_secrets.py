"""No password or token ever reaches the audit log, its forwarded copy or its export."""

from __future__ import annotations

import base64

import pytest
from django.test import Client, RequestFactory, TestCase

from accounts.models import User
from audit import forwarding
from audit.models import AuditLog, AuditOutbox
from harbor_py.core import configuration
from registry import pulls
from tests.integration.conftest import basic
from tests.integration.registry_data import image
from tests.syslog_receiver import SyslogReceiver

pytestmark = pytest.mark.django_db

CREATED = "Created-Secret-1a"
CHANGED = "Changed-Secret-2b"
WRONG = "Wrong-Guess-3c"
LDAP_BIND = "Ldap-Bind-Secret-4d"


def test_a_scenario_leaves_no_secret_anywhere(admin, client_for, make_project):
    receiver = SyslogReceiver().start()
    try:
        _scenario(admin, client_for, make_project, receiver)
    finally:
        receiver.stop()
        forwarding.sender.close()


def _scenario(admin, client_for, make_project, receiver) -> None:
    configuration.store({"audit_log_forward_endpoint": receiver.endpoint})
    api = client_for(admin)
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = api.post(
            "/api/v2.0/users",
            {"username": "sam", "email": "sam@example.com", "password": CREATED},
            format="json",
        )
        assert created.status_code == 201
        sam = User.objects.get(username="sam")
        assert client_for(sam, CREATED).get("/api/v2.0/users/current").status_code == 200
        assert client_for(sam, WRONG).get("/api/v2.0/users/current").status_code == 401
        changed = client_for(sam, CREATED).put(
            f"/api/v2.0/users/{sam.pk}/password",
            {"old_password": CREATED, "new_password": CHANGED},
            format="json",
        )
        assert changed.status_code == 200
        token_response = Client().get(
            "/service/token",
            {"service": "harbor-registry", "scope": "repository:demo/app:pull"},
            HTTP_AUTHORIZATION=basic("sam", CHANGED),
        )
        assert token_response.status_code == 200
        token = token_response.json()["token"]
        ui = Client()
        assert ui.post("/c/login", {"principal": "sam", "password": CHANGED}).status_code == 200
        assert ui.post("/c/login", {"principal": "sam", "password": WRONG}).status_code == 401
        assert ui.post("/c/log_out").status_code == 200
        assert (
            api.put(
                "/api/v2.0/configurations", {"ldap_search_password": LDAP_BIND}, format="json"
            ).status_code
            == 200
        )
        artifact = image(make_project("demo"), "app", "v1")
        request = RequestFactory().get(
            "/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=f"Bearer {token}"
        )
        pulls.record_pull(
            repository_id=artifact.repository_id,
            artifact_id=artifact.pk,
            event=pulls.PullEvent.of(request, artifact.repository, artifact, None),
        )
        pulls.aggregate()
    forwarding.drain()

    entries = list(AuditLog.objects.values())
    kinds = {(e["operation"], e["resource_type"], e["success"]) for e in entries}
    assert {
        ("create", "user", True),
        ("login", "user", True),
        ("login", "user", False),
        ("update", "user", True),
        ("logout", "user", True),
        ("update", "configuration", True),
        ("pull", "artifact", True),
    } <= kinds
    forwarded = receiver.wait_for(len(entries))
    export = b"".join(api.get("/api/v2.0/auditlog-exts/export").streaming_content).decode()
    listing = api.get("/api/v2.0/auditlog-exts", {"page_size": 100}).content.decode()

    haystacks = {
        "database": repr(entries),
        "outbox": repr(list(AuditOutbox.objects.values())),
        "syslog": b"".join(m.raw for m in forwarded).decode(),
        "export": export,
        "api": listing,
    }
    secrets = {
        "created password": CREATED,
        "changed password": CHANGED,
        "wrong password": WRONG,
        "ldap bind password": LDAP_BIND,
        "registry token": token,
        "token signature": token.rsplit(".", 1)[1],
        "basic header": base64.b64encode(f"sam:{CHANGED}".encode()).decode(),
    }
    for where, text in haystacks.items():
        for what, secret in secrets.items():
            assert secret not in text, f"the {what} appears in the {where}"
    assert "ldap_search_password=***" in haystacks["database"]
