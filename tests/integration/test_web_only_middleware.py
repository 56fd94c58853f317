"""UI middleware (sessions, CSRF, messages, slash redirects, frame options) is kept off the
registry paths and still guards the web UI."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_registry_answers_carry_no_ui_headers_or_redirects():
    client = Client(enforce_csrf_checks=True)
    challenge = client.get("/v2/")
    assert challenge.status_code == 401
    assert "X-Frame-Options" not in challenge and "Cookie" not in challenge.get("Vary", "")
    missing = client.head("/v2/demo/app/blobs/sha256:" + "0" * 64)
    assert missing.status_code == 401  # no slash redirect, whatever the path
    assert client.get("/service/token?service=harbor-registry").status_code == 200
    assert not client.cookies


def test_ui_keeps_csrf_sessions_and_frame_options():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/sign-in")
    assert page["X-Frame-Options"] == "DENY"
    assert "__csrf" in page.cookies
    assert client.post("/account/sign-in", {"principal": "a", "password": "b"}).status_code == 403
    assert client.get("/projects").status_code == 301  # APPEND_SLASH still redirects the UI
