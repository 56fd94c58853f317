"""The registry paths' own handler (harbor_py.wsgi, #31): gunicorn's application sends
`/v2/...` and `/service/token` through Django's handler built with only the middleware
that acts on those paths. Each test calls the real WSGI application, as gunicorn does, and
pins one guarantee the lean chain must keep: read-only refusals, the Host check, request
ids, metrics, token verification; that the web paths keep their full chain; and that
every middleware the lean chain leaves out really does nothing on a registry path."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.module_loading import import_string
from prometheus_client import REGISTRY

from harbor_py.core import configuration
from harbor_py.middleware import (
    SKIPPED_ON_REGISTRY_PATHS,
    is_registry_path,
    registry_middleware_paths,
)
from harbor_py.ops.readonly import MESSAGE
from harbor_py.wsgi import RegistryHandler, application
from tests.distribution import bearer

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The handlers close the database connection at the end of a request, as in
    gunicorn; the test's transaction lives on it (Django's test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(
    method: str, path: str, *, body: bytes = b"", host: str = "testserver", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One request through harbor_py.wsgi.application, as gunicorn makes it."""
    environ: dict[str, object] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "HTTP_HOST": host,
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    for name, value in headers.items():
        key = name.upper()
        environ[key if key == "CONTENT_TYPE" else f"HTTP_{key}"] = value
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: Iterable[bytes] = application(
        environ, lambda status, response_headers: started.append((status, response_headers))
    )
    content = b"".join(chunks)
    getattr(chunks, "close", lambda: None)()
    status, response_headers = started[0]
    return int(status.split()[0]), dict(response_headers), content


def test_registry_paths_take_the_lean_handler_and_the_others_the_full_one():
    assert isinstance(application.registry, RegistryHandler)
    assert not isinstance(application.web, RegistryHandler)
    chain = registry_middleware_paths()
    # What acts on registry paths stays, in settings.MIDDLEWARE's order.
    for kept in (
        "harbor_py.ops.metrics.MetricsMiddleware",
        "harbor_py.middleware.RequestIdMiddleware",
        "harbor_py.ops.readonly.ReadOnlyMiddleware",
        "harbor_py.middleware.RegistryFaultMiddleware",
        "frontend.middleware.UiLocaleMiddleware",  # resets a thread's UI language
    ):
        assert kept in chain
    assert chain == [m for m in settings.MIDDLEWARE if m in chain]
    for left_out in (
        "harbor_py.middleware.SessionMiddleware",
        "harbor_py.middleware.CsrfViewMiddleware",
        "harbor_py.middleware.AuthenticationMiddleware",
        "frontend.middleware.ContentSecurityPolicyMiddleware",
    ):
        assert left_out in settings.MIDDLEWARE and left_out not in chain
    # Building the lean handler leaves the setting as it was.
    assert "harbor_py.middleware.SessionMiddleware" in settings.MIDDLEWARE


@pytest.mark.parametrize(
    "dotted", [m for m in settings.MIDDLEWARE if m not in registry_middleware_paths()]
)
def test_what_the_lean_chain_leaves_out_does_nothing_on_registry_paths(dotted):
    """The attribute that takes a class out of the registry handler's chain is true only
    where the class steps aside there: same response object, no header, no session."""
    cls = import_string(dotted)
    assert getattr(cls, SKIPPED_ON_REGISTRY_PATHS)
    inner = HttpResponse(b"inner")
    middleware = cls(lambda request: inner)
    paths = (f"/v2/demo/app/blobs/{DIGEST}", "/v2/demo/app/manifests/v1", "/v2/", "/service/token")
    for method, path in ((m, p) for m in ("get", "head", "put", "delete", "post") for p in paths):
        assert is_registry_path(path)
        request = getattr(RequestFactory(), method)(path, HTTP_COOKIE="sessionid=x; csrftoken=y")
        if hasattr(middleware, "process_view"):
            assert middleware.process_view(request, lambda r: inner, (), {}) is None
        response = middleware(request)
        assert response is inner
        assert dict(response.headers) == {"Content-Type": "text/html; charset=utf-8"}
        assert not hasattr(request, "session") and not hasattr(request, "user")


def test_read_only_refuses_registry_writes_on_the_lean_path(make_user, make_project):
    owner = make_user("owner")
    make_project("demo", owner=owner)
    token = bearer("owner", "demo/app", {"pull", "push", "delete"})  # minted before the switch
    configuration.store({"read_only": True})
    manifest = json.dumps({"schemaVersion": 2}).encode()
    for method, path in (
        ("PUT", "/v2/demo/app/manifests/v1"),
        ("DELETE", "/v2/demo/app/manifests/v1"),
        ("DELETE", f"/v2/demo/app/blobs/{DIGEST}"),
        ("POST", "/v2/demo/app/blobs/uploads/"),
    ):
        status, _, content = call(
            method, path, body=manifest, content_type="application/json", authorization=token
        )
        assert status == 403, (method, path, content)
        assert json.loads(content)["errors"][0] == {"code": "DENIED", "message": MESSAGE}


def test_tokens_are_verified_on_the_lean_path(make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    status, headers, _ = call("HEAD", f"/v2/demo/app/blobs/{DIGEST}")
    assert status == 401 and "Bearer realm=" in headers["WWW-Authenticate"]
    forged = bearer("owner", "demo/app", {"pull"})[:-8] + "AAAAAAAA"
    status, headers, _ = call("HEAD", f"/v2/demo/app/blobs/{DIGEST}", authorization=forged)
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
    good = bearer("owner", "demo/app", {"pull"})
    status, _, _ = call("HEAD", f"/v2/demo/app/blobs/{DIGEST}", authorization=good)
    assert status == 404  # verified; the blob is not there
    other = bearer("owner", "demo/other", {"pull"})  # a token for another repository
    status, _, _ = call("HEAD", f"/v2/demo/app/blobs/{DIGEST}", authorization=other)
    assert status == 401


def test_host_check_request_id_and_metrics_on_the_lean_path():
    status, _, content = call("GET", "/v2/", host="evil.example")
    assert status == 400, content  # DisallowedHost, answered as a 400
    labels = {"route": "v2/", "method": "GET", "status": "401"}
    before = REGISTRY.get_sample_value("harbor_http_request_duration_seconds_count", labels) or 0
    status, headers, _ = call("GET", "/v2/", x_request_id="ci-run-42")
    assert status == 401
    assert headers["X-Request-Id"] == "ci-run-42"
    after = REGISTRY.get_sample_value("harbor_http_request_duration_seconds_count", labels)
    assert after == before + 1
    assert "Content-Security-Policy" not in headers


def test_web_paths_keep_the_full_chain():
    status, headers, _ = call("GET", "/account/sign-in")
    assert status == 200
    assert "Content-Security-Policy" in headers  # frontend's middleware ran
    assert headers.get("X-Frame-Options") == "DENY"
    assert "X-Request-Id" in headers
    status, _, content = call(
        "POST",
        "/account/sign-in",
        body=b"username=a&password=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert status == 403, content  # CSRF: no token, no cookie
