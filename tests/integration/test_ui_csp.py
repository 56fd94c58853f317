"""The web UI's Content-Security-Policy (issue #20): its scripts and styles are its own
files, so nothing inline and nothing from elsewhere runs; machine paths carry none."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/projects", "/projects/demo/labels", "/account/sign-in"])
def test_ui_pages_carry_a_strict_policy_and_nothing_inline(admin, make_project, path):
    make_project("demo", owner=admin)
    client = Client()
    client.force_login(admin)
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    page = response.content.decode()
    assert "<script>" not in page and " style=" not in page and "<style" not in page


def test_machine_paths_carry_none(admin, client_for):
    assert "Content-Security-Policy" not in client_for(admin).get("/api/v2.0/ping")
    assert "Content-Security-Policy" not in Client().get("/v2/")
