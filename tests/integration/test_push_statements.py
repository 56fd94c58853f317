"""The statements and Redis round trips of one tiny push, request by request, as a registry
client makes them (#31): the token, the HEADs of its new blobs, the manifest PUT, through
the registry paths' handler (harbor_py.wsgi) as the web server runs it. Each budget is what
the last cut left (docs/performance-gate.md); a change that adds a statement to a push
shows here."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext

from harbor_py.wsgi import RegistryHandler
from projects.models import Project
from registry import pull_through, push
from registry.models import Artifact, Repository
from tests.distribution import bearer, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer
from tests.integration.conftest import PASSWORD
from tests.integration.registry_data import parsed_image
from tests.wsgi_environ import environ

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.distribution_plugin"]

Costs = dict[str, tuple[int, list[str], list[str]]]  # request: status, statements, Redis


def call(handler: RegistryHandler, method: str, path: str, **kwargs) -> tuple[int, bytes]:
    """`environ()`'s keyword arguments: query, authorization, body, content_type."""
    statuses: list[str] = []
    chunks = handler(
        environ(method, path, **kwargs), lambda status, headers: statuses.append(status)
    )
    content = b"".join(chunks)
    chunks.close()  # type: ignore[attr-defined]  # Django's response
    return int(statuses[0].split()[0]), content


@pytest.fixture
def measured(redis_commands) -> Callable[..., tuple[int, bytes]]:
    """call(), recording each request's statements and Redis commands in `.costs`."""
    handler = RegistryHandler()
    costs: Costs = {}

    def measure(name: str, method: str, path: str, **kwargs) -> tuple[int, bytes]:
        redis_commands.clear()
        with CaptureQueriesContext(connection) as queries:
            status, content = call(handler, method, path, **kwargs)
        costs[name] = (status, [q["sql"] for q in queries.captured_queries], list(redis_commands))
        return status, content

    measure.costs = costs  # type: ignore[attr-defined]  # the fixture's record
    return measure


def client_push(measure: Callable[..., tuple[int, bytes]], user: str, repository: str) -> Costs:
    """A one-layer image pushed as skopeo does: token, HEAD of each new blob, the uploads
    (straight to distribution, as nginx sends them), the manifest PUT."""
    layer = random_layer(256)
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    basic = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    query = f"service=harbor-registry&scope=repository:{repository}:pull,push"
    status, content = measure("token", "GET", "/service/token", query=query, authorization=basic)
    assert status == 200, content
    token = "Bearer " + json.loads(content)["token"]
    descriptors = []
    blobs = (("layer", OCI_LAYER_GZIP, layer), ("config", OCI_CONFIG, config))
    for kind, media_type, data in blobs:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = f"/v2/{repository}/blobs/{digest}"
        assert measure(f"HEAD {kind}", "HEAD", path, authorization=token)[0] == 404
        upload_blob(repository, data)
        descriptors.append({"mediaType": media_type, "digest": digest, "size": len(data)})
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptors[1],
        "layers": descriptors[:1],
    }
    status, content = measure(
        "manifest PUT",
        "PUT",
        f"/v2/{repository}/manifests/v1",
        authorization=token,
        body=json.dumps(doc).encode(),
        content_type=OCI_MANIFEST,
    )
    assert status == 201, content
    return measure.costs  # type: ignore[attr-defined]  # set on the function by the fixture


def test_a_tiny_push_stays_within_its_budget(distribution, make_user, make_project, measured):
    make_user("admin", sysadmin=True)
    make_project("bench")
    client_push(measured, "admin", "bench/warm")  # connections, prepared statements, caches
    costs = client_push(measured, "admin", "bench/app")
    counts = {name: (len(sqls), len(sent)) for name, (_, sqls, sent) in costs.items()}
    assert counts == {
        "token": (2, 1),  # the user, the project; one MGET (accounts.credentials)
        "HEAD layer": (0, 0),  # the token grants push: no proxy cache (v2_views._may_be_proxy)
        "HEAD config": (0, 0),
        # the project; two transactions (registry.push): 7 statements (the new repository
        # read or inserted in one, the quota charge and the blob references in one) and 5
        # (the replication policies from the cache); from Redis the configuration, and the
        # event consumers' cached choices (webhooks, replication) in one MGET
        "manifest PUT": (13, 2),
    }, {name: sqls for name, (_, sqls, _) in costs.items()}
    put = costs["manifest PUT"][1]
    assert sum('FROM "project"' in sql for sql in put) == 1  # scan on push asks no row
    assert costs["manifest PUT"][2] == ["GET", "MGET"]


def test_a_push_into_a_project_deleted_meanwhile_records_nothing(make_project):
    """The repository's INSERT is written only while the project row is there (pinned)."""
    gone = make_project("gone")
    Project.objects.filter(pk=gone.pk).delete()
    with pytest.raises(push.ProjectGone):
        push.reserve(project=gone, repository_name="gone/app", parsed=parsed_image("a"), tag="v1")
    assert not Repository.objects.exists() and not Artifact.objects.exists()


class _Proxy:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def blob(self, request, project, name, digest) -> HttpResponse:
        self.asked.append(name)
        return HttpResponse(status=200)


def test_a_pull_head_of_a_missing_blob_still_asks_a_proxy_cache(make_project, monkeypatch):
    project = make_project("cache")
    project.registry_id = 1  # a proxy cache of endpoint 1
    project.save()
    proxy = _Proxy()
    monkeypatch.setattr(pull_through, "_handler", [proxy])
    handler = RegistryHandler()
    path = f"/v2/cache/app/blobs/sha256:{'a' * 64}"
    status, _ = call(handler, "HEAD", path, authorization=bearer("x", "cache/app", {"pull"}))
    assert (status, proxy.asked) == (200, ["cache/app"])
