"""Refusals made in front of Django (nginx, gunicorn) come in the error shape clients read,
and Location headers name the configured external URL, whatever Host a client sends
(issue #20)."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest

from tests.stack import ADMIN_PASSWORD, Instance

ADMIN = ("admin", ADMIN_PASSWORD)


def _errors(response: httpx.Response, status: int) -> list[dict]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    errors = response.json()["errors"]
    assert errors and all({"code", "message"} <= set(e) for e in errors), errors
    return errors


@pytest.fixture(scope="module")
def repo(stack: Instance) -> str:
    project = f"shape{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    return f"{project}/app"


def test_bodies_over_nginx_limits_are_413_in_the_right_shape(stack: Instance, repo: str) -> None:
    with stack.client(ADMIN) as api:
        big = b'{"project_name": "' + b"a" * (21 * 1024 * 1024) + b'"}'
        response = api.post("/api/v2.0/projects", content=big)
        assert _errors(response, 413)[0]["code"] == "PAYLOAD_TOO_LARGE"
        token = stack.token([f"repository:{repo}:pull,push"], auth=ADMIN)["token"]
        manifest = api.put(
            f"/v2/{repo}/manifests/v1",
            content=b"{" + b" " * (6 * 1024 * 1024) + b"}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert _errors(manifest, 413)[0]["code"] == "SIZE_INVALID"


def test_long_uris_and_headers_are_answered_in_harbors_shape(stack: Instance) -> None:
    with stack.client(ADMIN) as api:
        # Past gunicorn's default limits (4094 and 8190), inside nginx's: Django answers.
        _errors(api.get("/api/v2.0/projects/" + "a" * 10_000), 404)
        ping = api.get("/api/v2.0/ping", headers={"X-Big": "b" * 10_000})
        assert ping.status_code == 200, ping.text[:300]
        # Past nginx's: nginx answers, in the same shape.
        _errors(api.get("/api/v2.0/projects/" + "a" * 40_000), 414)


def test_a_malformed_request_is_400_in_harbors_shape(stack: Instance) -> None:
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as conn:
        conn.sendall(b"GET /api/v2.0/ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), raw[:300]
    assert b'"code": "BAD_REQUEST"' in body, raw[:500]


def test_what_nginx_refuses_on_v2_carries_an_oci_code(stack: Instance, repo: str) -> None:
    """A NUL in the path (found by tests/e2e/test_fuzz.py) or a URI past nginx's limit:
    nginx answers, with a code OCI clients know, not Harbor's API codes."""
    token = stack.token([f"repository:{repo}:pull"], auth=ADMIN)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with stack.client(None) as client:
        assert (
            _errors(client.get("/v2/fuzz/%00/tags/list", headers=bearer), 400)[0]["code"]
            == "UNSUPPORTED"
        )
        assert (
            _errors(client.get(f"/v2/{repo}/manifests/" + "a" * 40_000, headers=bearer), 414)[0][
                "code"
            ]
            == "UNSUPPORTED"
        )


def test_a_malformed_digest_in_a_blob_path_is_digest_invalid(stack: Instance, repo: str) -> None:
    token = stack.token([f"repository:{repo}:pull"], auth=ADMIN)["token"]
    with stack.client(None) as registry:
        for headers in ({"Authorization": f"Bearer {token}"}, {}):
            for digest in ("sha256:zz", "0:", "sha256:" + "A" * 64, "nodigest"):
                response = registry.get(f"/v2/{repo}/blobs/{digest}", headers=headers)
                assert _errors(response, 400)[0]["code"] == "DIGEST_INVALID", digest


def test_location_headers_name_the_external_url_whatever_the_host(
    stack: Instance, repo: str
) -> None:
    token = stack.token([f"repository:{repo}:pull,push"], auth=ADMIN)["token"]
    with stack.client(None) as registry:
        started = registry.post(
            f"/v2/{repo}/blobs/uploads/",
            headers={"Authorization": f"Bearer {token}", "Host": "evil.example:4444"},
        )
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        assert location.startswith(f"{stack.url}/v2/{repo}/blobs/uploads/"), location
        with stack.client(ADMIN) as api:
            created = api.post(
                "/api/v2.0/projects",
                json={"project_name": f"loc{uuid.uuid4().hex[:8]}"},
                headers={"Host": "evil.example"},
            )
            assert created.status_code == 201, created.text
            assert "evil" not in created.headers["Location"]
