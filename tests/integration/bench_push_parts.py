"""What the parts the session-9 merges added to a manifest push cost, one at a time and
in-process (#19 item 4): CPU of this process (what gunicorn would spend) and of its
PostgreSQL backend (from /proc), per call, medians of three rounds. Not collected by
`make test`; run it explicitly (it starts the unit tests' real distribution):

    .venv/bin/python -m pytest tests/integration/bench_push_parts.py -s -q

  pin             the artifact pin (`registry.locks.pin`) in a transaction that writes,
                  as `push.pinned()` + `push.complete()` do, against the same transaction
                  without it
  size check      `registry.blob_sizes.verified_sizes` of a one-layer image on the
                  filesystem driver (stat calls)
  CSP             `frontend.middleware.ContentSecurityPolicyMiddleware` on a /v2 path

and, for #31, what Django's handler and middleware add to a request of the hot path: a
blob HEAD (404) through `WSGIHandler`, through the registry paths' `RegistryHandler`
(harbor_py.wsgi) and the view called on the same WSGI request;
and a token request (Basic credentials already remembered) through `WSGIHandler`, signed
by the ES256 key against an RSA-3072 one, with its credential check alone beside it;
and the database side of a manifest PUT (`recording a push`: reserve, pinned, complete),
which `git archive`s of two commits can run in turn to compare their statements' cost.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable

import pytest
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from accounts.login import authenticate_credentials
from accounts.tokens import Scope, mint
from frontend.middleware import ContentSecurityPolicyMiddleware
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.wsgi import RegistryHandler
from registry import blob_sizes, locks, push
from registry.manifests import parse_manifest
from registry.v2_views import blob_head
from tests.backend_cpu import backend_cpu
from tests.distribution import upload_blob
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer
from tests.integration.conftest import PASSWORD
from tests.integration.registry_data import parsed_image
from tests.legacy_keys import make_rsa_signing_material
from tests.wsgi_environ import environ

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.distribution_plugin"]
ROUNDS = 3


def _cost(call: Callable[[], object], count: int) -> tuple[float, float]:
    """ms per call: this process's CPU, the PostgreSQL backend's."""
    for _ in range(20):
        call()
    backend = backend_cpu()
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) * 1000 / count, (backend_cpu() - backend) * 1000 / count


def _report(name: str, call: Callable[[], object], count: int) -> None:
    rounds = [_cost(call, count) for _ in range(ROUNDS)]
    client = statistics.median(r[0] for r in rounds)
    backend = statistics.median(r[1] for r in rounds)
    print(f"\n{name:<24} this process {client:.3f} ms, PostgreSQL {backend:.3f} ms per call")


def test_costs(distribution, make_user, make_project) -> None:
    project = make_project("bench", owner=make_user("alice"))
    reservation = push.reserve(
        project=project, repository_name="bench/pin", parsed=parsed_image("pin"), tag="v1"
    )

    def write() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE quota SET used = used WHERE project_id = %s", [project.pk])

    def unpinned() -> None:
        with transaction.atomic():
            write()

    def pinned() -> None:
        with transaction.atomic():
            assert locks.pin(reservation.artifact.pk)
            write()

    _report("transaction, no pin", unpinned, 2000)
    _report("transaction, pinned", pinned, 2000)

    layer = random_layer(256)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob("bench/sizes", config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": upload_blob("bench/sizes", layer),
                "size": len(layer),
            }
        ],
    }
    parsed = parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST)
    _report("size check", lambda: blob_sizes.verified_sizes("bench/sizes", parsed), 2000)

    middleware = ContentSecurityPolicyMiddleware(lambda request: HttpResponse())
    request = RequestFactory().head("/v2/bench/sizes/blobs/" + parsed.digest)
    _report("response with CSP", lambda: middleware(request), 20000)
    _report("response without CSP", HttpResponse, 20000)


def _environ(method: str, path: str, query: str, authorization: str) -> dict[str, object]:
    return environ(method, path, query=query, authorization=authorization)


def test_token_request(make_user, make_project, settings, tmp_path) -> None:
    make_project("bench", owner=make_user("alice"))
    basic = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    query = "service=harbor-registry&scope=repository:bench/r:pull,push"
    handler = WSGIHandler()
    rsa_key, rsa_cert = tmp_path / "token.key", tmp_path / "token.crt"
    make_rsa_signing_material(rsa_key, rsa_cert)
    es256 = settings.HARBOR
    rs256 = {**es256, "TOKEN_KEY_PATH": rsa_key, "TOKEN_CERT_PATH": rsa_cert}

    def token_request() -> None:
        statuses: list[str] = []
        environ = _environ("GET", "/service/token", query, basic)
        body = handler(environ, lambda status, headers: statuses.append(status))
        b"".join(body)
        body.close()
        assert statuses[0].startswith("200"), statuses

    for _ in range(ROUNDS):  # interleaved: the machine's load moves between rounds
        settings.HARBOR = es256
        _report("token request, ES256", token_request, 300)
        settings.HARBOR = rs256
        _report("token request, RS256-3072", token_request, 300)


def test_credential_check(make_user) -> None:
    """A remembered login, as on every token request of a CI client."""
    make_user("alice")

    def credential_check() -> None:
        with configuration.per_request():
            assert authenticate_credentials("alice", PASSWORD, address="127.0.0.1")

    _report("credential check", credential_check, 2000)


def test_django_handler_on_a_blob_head(make_project) -> None:
    make_project("bench")
    token, _, _ = mint("admin", [Scope("repository", "bench/r", frozenset({"pull"}))])
    digest = "sha256:" + "a" * 64

    def environ() -> dict[str, object]:
        return {
            "REQUEST_METHOD": "HEAD",
            "PATH_INFO": f"/v2/bench/r/blobs/{digest}",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }

    def through(handler: WSGIHandler) -> Callable[[], None]:
        def call() -> None:
            statuses: list[str] = []
            body = handler(environ(), lambda status, headers: statuses.append(status))
            b"".join(body)
            body.close()
            assert statuses[0].startswith("404")

        return call

    def view_only() -> None:
        response = blob_head(WSGIRequest(environ()), "bench/r", digest)
        assert response.status_code == 404
        response.close()

    through_django, through_registry_handler = through(WSGIHandler()), through(RegistryHandler())
    for _ in range(ROUNDS):  # interleaved: the machine's load moves between rounds
        _report("blob HEAD through Django", through_django, 2000)
        _report("blob HEAD, registry handler", through_registry_handler, 2000)
        _report("blob HEAD, view only", view_only, 2000)


DISCARD_QUEUE = "bench-push-parts-discard"


def test_event_publish_with_webhooks(make_project) -> None:
    """#26: what a push's `artifact_pushed` costs the web process in a project with five
    webhook policies against one without: the outbox INSERT in the push's transaction and
    what runs after its commit, with a real Celery broker (Redis; the messages go to a
    queue of their own, emptied at the end): the coalesced wake-up (`events.wake`, one
    SET NX per commit while a message is on its way) against a message per commit (the
    release before it)."""
    from celery import current_app
    from django.core.cache import cache

    from harbor_py.core import events, redis_conn
    from registry.events import ArtifactPushed
    from webhooks.models import WebhookPolicy

    make_project("quiet")
    hooked = make_project("hooked")
    for k in range(5):
        WebhookPolicy.objects.create(
            project=hooked,
            name=f"hook{k}",
            event_types=["PUSH_ARTIFACT"],
            targets=[{"type": "http", "address": f"http://127.0.0.1:9/{k}"}],
        )
    digest = "sha256:" + "a" * 64
    woken = events.wake

    def message() -> None:
        events.deliver_events.apply_async(([1],), queue=DISCARD_QUEUE)

    def pushed(project: str, after_commit: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            events.wake = after_commit  # what publish registers
            with transaction.atomic():
                events.publish(ArtifactPushed(project, f"{project}/app", digest, ("v1",), "a"))

        return call

    eager, current_app.conf.task_always_eager = current_app.conf.task_always_eager, False
    cache.set(events.WAKE_KEY, 1, 3600)  # a message on its way: the steady state of a burst
    try:
        for _ in range(ROUNDS):  # interleaved: the machine's load moves between rounds
            _report("publish, no policy", pushed("quiet", woken), 1000)
            _report("five policies, wake-up", pushed("hooked", woken), 1000)
            _report("five policies, message", pushed("hooked", message), 1000)
        _report("a Celery message alone", message, 1000)
        _report("SET NX on a held key", lambda: cache.add(events.WAKE_KEY, 1, 60), 1000)
    finally:
        events.wake = woken
        current_app.conf.task_always_eager = eager
        cache.delete(events.WAKE_KEY)
        redis_conn.client(timeout=5).delete(DISCARD_QUEUE)


def test_recording_a_push(make_user, make_project) -> None:
    """The database side of a manifest PUT, without distribution's: `push.reserve` of a new
    image into a new repository, then `push.pinned` and `push.complete` (tag, events,
    audit), as `registry.v2_views._record_and_put` runs them."""
    project = make_project("bench", owner=make_user("alice"))
    actor = Actor(username="alice", client_address="127.0.0.1")
    serials = itertools.count()

    def recorded() -> None:
        serial = next(serials)
        reservation = push.reserve(
            project=project,
            repository_name=f"bench/app{serial}",
            parsed=parsed_image(f"image{serial}"),
            tag="v1",
        )
        with push.pinned(reservation):
            push.complete(reservation=reservation, tag="v1", actor=actor)

    _report("recording a push", recorded, 500)
