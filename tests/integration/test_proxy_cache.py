"""Proxy-cache projects through the REST API and the token service: creation with
Harbor's registry_id, who may create one, no push for anyone, and the upstream's health
(the circuit breaker in Redis). The pull-through itself is end to end:
tests/e2e/test_proxy_cache.py."""

from __future__ import annotations

import pytest

from accounts.grants import grant
from accounts.tokens import Scope
from projects.models import Project, ProjectMember
from projects.roles import Role
from proxy_cache import upstreams
from replication.models import RegistryEndpoint
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint() -> RegistryEndpoint:
    return RegistryEndpoint.objects.create(
        name="upstream", type="docker-registry", url="http://127.0.0.1:9"
    )


def test_create_a_proxy_cache_project_and_list_it(admin, client_for, endpoint):
    api = client_for(admin)
    response = api.post(
        "/api/v2.0/projects",
        {"project_name": "cache", "registry_id": endpoint.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Project.objects.get(name="cache").registry_id == endpoint.pk
    listed = api.get("/api/v2.0/projects", {"name": "cache"})
    assert_matches("listProjects", listed, 200)
    assert listed.json()[0]["registry_id"] == endpoint.pk
    one = api.get("/api/v2.0/projects/cache")
    assert_matches("getProject", one, 200)
    assert one.json()["registry_id"] == endpoint.pk
    plain = api.post("/api/v2.0/projects", {"project_name": "plain"}, format="json")
    assert plain.status_code == 201
    assert "registry_id" not in api.get("/api/v2.0/projects/plain").json()


def test_an_unknown_registry_or_a_non_admin_is_refused(admin, make_user, client_for, endpoint):
    refused = client_for(admin).post(
        "/api/v2.0/projects", {"project_name": "cache", "registry_id": 999999}, format="json"
    )
    assert_harbor_error(refused, 400, "BAD_REQUEST")
    user = make_user()
    forbidden = client_for(user).post(
        "/api/v2.0/projects", {"project_name": "mine", "registry_id": endpoint.pk}, format="json"
    )
    assert_harbor_error(forbidden, 403, "FORBIDDEN")
    assert not Project.objects.filter(name__in=["cache", "mine"]).exists()


def test_no_push_is_granted_in_a_proxy_project(admin, make_user, make_project, endpoint):
    developer = make_user()
    project = make_project("cache", members={developer: Role.DEVELOPER})
    scopes = [Scope("repository", "cache/app", frozenset({"pull", "push"}))]
    assert grant(developer, scopes)[0].actions == frozenset({"pull", "push"})
    Project.objects.filter(pk=project.pk).update(registry_id=endpoint.pk)
    assert grant(developer, scopes)[0].actions == frozenset({"pull"})
    assert grant(admin, scopes)[0].actions == frozenset({"pull"})
    assert ProjectMember.objects.filter(project=project, user=developer).exists()


def test_the_breaker_opens_after_failures_in_a_row_and_closes_on_success(endpoint):
    upstreams.succeeded(endpoint.pk)
    assert upstreams.health(endpoint.pk) == {"state": "healthy"}
    upstreams.failed(endpoint.pk, "connection refused")
    assert not upstreams.is_open(endpoint.pk)
    assert upstreams.health(endpoint.pk)["state"] == "failing"
    upstreams.failed(endpoint.pk, "HTTP 503")
    assert upstreams.is_open(endpoint.pk)
    assert upstreams.health(endpoint.pk) == {"state": "down", "failures": 2, "reason": "HTTP 503"}
    endpoint.refresh_from_db()
    assert endpoint.status == "unhealthy"
    upstreams.succeeded(endpoint.pk)
    assert not upstreams.is_open(endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.status == "healthy"


@pytest.mark.parametrize(
    ("kind", "local", "remote"),
    [
        ("docker-hub", "cache/nginx", "library/nginx"),
        ("docker-hub", "cache/library/nginx", "library/nginx"),
        ("docker-hub", "cache/bitnami/redis", "bitnami/redis"),
        ("docker-registry", "cache/nginx", "nginx"),
    ],
)
def test_names_upstream(kind, local, remote):
    hub = kind == upstreams.DOCKER_HUB
    source = upstreams.Upstream(1, "up", hub, adapter=None)  # type: ignore[arg-type]  # names need none
    assert source.remote_name(local) == remote


def test_an_endpoint_in_use_by_a_proxy_project_cannot_be_deleted(admin, client_for, endpoint):
    api = client_for(admin)
    created = api.post(
        "/api/v2.0/projects", {"project_name": "cache", "registry_id": endpoint.pk}, format="json"
    )
    assert created.status_code == 201
    refused = api.delete(f"/api/v2.0/registries/{endpoint.pk}")
    assert_harbor_error(refused, 412, "PRECONDITION")
    assert RegistryEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_the_ui_creates_a_proxy_project_shows_its_badge_and_the_upstream_health(admin, endpoint):
    from django.test import Client

    browser = Client()
    browser.force_login(admin)
    form = browser.get("/projects/new").content.decode()
    assert 'name="registry_id"' in form and f'value="{endpoint.pk}"' in form
    created = browser.post(
        "/projects/new", {"project_name": "cache", "registry_id": str(endpoint.pk)}
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    assert Project.objects.get(name="cache").registry_id == endpoint.pk
    assert 'class="badge proxy-cache"' in browser.get("/projects/cache/").content.decode()
    assert 'class="badge proxy-cache"' in browser.get("/projects/").content.decode()
    upstreams.succeeded(endpoint.pk)
    upstreams.failed(endpoint.pk, "connection refused")
    upstreams.failed(endpoint.pk, "connection refused")
    page = browser.get("/admin/registries", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "拉取由缓存提供" in page and "connection refused" in page
    upstreams.succeeded(endpoint.pk)


def test_the_ui_offers_no_proxy_cache_to_a_non_admin(make_user):
    from django.test import Client

    browser = Client()
    browser.force_login(make_user())
    page = browser.get("/projects/new")
    assert page.status_code == 200
    assert 'name="project_name"' in page.content.decode()
    assert 'name="registry_id"' not in page.content.decode()


def _cached_artifact(repository, digest: str, *, tag: str | None = None, age=None):
    from proxy_cache.models import CachedManifest
    from registry.models import Artifact, Tag

    artifact = Artifact.objects.create(
        repository=repository, digest=digest, media_type="x", manifest_media_type="y"
    )
    if age is not None:
        Artifact.objects.filter(pk=artifact.pk).update(push_time=age)
    if tag:
        Tag.objects.create(repository=repository, artifact=artifact, name=tag)
    CachedManifest.objects.create(
        repository=repository.name, digest=digest, media_type="y", body=b"{}", artifact=artifact
    )
    return artifact


def test_gc_untagged_sweep_deletes_the_cached_manifests_with_the_artifacts(
    make_project, endpoint, monkeypatch
):
    """GC's untagged sweep of a proxy project: the cached manifests of an index and its
    child go with their rows (they were left behind); a tagged artifact's stays."""
    import datetime as dt

    from django.utils import timezone

    from harbor_gc.untagged import delete_untagged_artifacts
    from jobs.context import JobContext
    from jobs.models import Execution, Task
    from proxy_cache.models import CachedManifest
    from registry import deletion
    from registry.models import ArtifactReference, Repository

    # distribution's side of the delete (a manifest DELETE per digest) is not under test
    monkeypatch.setattr(deletion, "_delete_manifests", lambda repository, digests: None)
    project = make_project("cache")
    Project.objects.filter(pk=project.pk).update(registry_id=endpoint.pk)
    repository = Repository.objects.create(project=project, name="cache/app")
    old = timezone.now() - dt.timedelta(days=1)
    index = _cached_artifact(repository, "sha256:" + "1" * 64, age=old)
    child = _cached_artifact(repository, "sha256:" + "2" * 64, age=old)
    ArtifactReference.objects.create(parent=index, child=child, child_digest=child.digest)
    kept = _cached_artifact(repository, "sha256:" + "3" * 64, tag="v1", age=old)
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", parameters={})
    task = Task.objects.create(execution=execution)

    deleted, _ = delete_untagged_artifacts(
        JobContext(task.pk, execution.pk, {}), timezone.now(), dry_run=False
    )

    assert deleted == 1
    assert list(CachedManifest.objects.values_list("digest", flat=True)) == [kept.digest]


def test_a_deleted_artifact_takes_its_cached_manifest_along_in_the_same_transaction(
    make_project, endpoint
):
    from django.db import transaction

    from harbor_py.core.actor import Actor
    from proxy_cache.models import CachedManifest
    from registry import services
    from registry.models import Repository

    project = make_project("cache")
    repository = Repository.objects.create(project=project, name="cache/app")
    gone = _cached_artifact(repository, "sha256:" + "a" * 64)
    kept = _cached_artifact(repository, "sha256:" + "b" * 64, tag="v1")

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        services.delete_artifacts(root=gone, artifacts=[gone], actor=Actor.system("t"))
        # gone before the commit: no window in which the row outlives its artifact
        assert list(CachedManifest.objects.values_list("digest", flat=True)) == [kept.digest]
        raise Rollback
    assert CachedManifest.objects.count() == 2  # and back with it on a rollback
    services.delete_artifacts(root=gone, artifacts=[gone], actor=Actor.system("t"))
    assert list(CachedManifest.objects.values_list("pk", flat=True)) == [
        CachedManifest.objects.get(digest=kept.digest).pk
    ]


def test_the_job_log_keeps_one_task_per_project_and_day_and_the_ui_shows_it(
    admin, make_project, endpoint
):
    from django.test import Client

    from jobs.models import Execution
    from proxy_cache import services
    from proxy_cache.selectors import job_logs

    project = make_project("cache")
    Project.objects.filter(pk=project.pk).update(registry_id=endpoint.pk)
    other = make_project("other")
    services._tasks.clear()  # as a fresh process: the task is found in the database
    services.log(project_id=project.pk, message="fetched blob sha256:1 of cache/app: cached")
    services._tasks.clear()
    services.log(project_id=project.pk, message="served cache/app:v1 from the cache: gone")
    services.log(project_id=other.pk, message="elsewhere")

    assert Execution.objects.filter(vendor_type="PROXY_CACHE", vendor_id=project.pk).count() == 1
    [today] = job_logs(project.pk)
    lines = today["log"].splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "fetched blob sha256:1 of cache/app: cached",
        "served cache/app:v1 from the cache: gone",
    ]
    browser = Client()
    browser.force_login(admin)
    page = browser.get("/projects/cache/logs").content.decode()
    assert "Proxy cache job log" in page and "served cache/app:v1 from the cache: gone" in page
    assert "elsewhere" not in page
    assert "Proxy cache job log" not in browser.get("/projects/other/logs").content.decode()


def test_a_job_log_line_that_cannot_be_written_never_fails_the_answer(
    make_project, endpoint, monkeypatch, caplog
):
    from django.db import InterfaceError
    from django.utils import timezone

    from proxy_cache import services

    project = make_project("cache")

    def lost(project_id: int, day: str) -> int:
        raise InterfaceError("connection already closed")  # no DatabaseError

    monkeypatch.setattr(services, "_task_of", lost)
    # after the answer (the response's close()): an exception would cost the client its
    # connection, or under granian turn the answer into a 500
    services.write([(project.pk, timezone.now(), "fetched the manifest of cache/app:v1\n")])
    assert "connection already closed" in caplog.text
    assert "fetched the manifest of cache/app:v1" in caplog.text


def test_closing_a_streamed_blob_s_response_closes_its_tee_when_the_client_left_early():
    from django.http import StreamingHttpResponse

    from proxy_cache import blobs

    ended: list[str] = []

    def tee():  # blobs._tee: its `finally` releases the flight, the upload and logs
        try:
            yield b"first"
            yield b"second"
        finally:
            ended.append("released")

    chunks = tee()
    first = next(chunks)  # open_blob reads the first bytes before it answers
    response = StreamingHttpResponse(blobs._Prepended(first, chunks))
    assert next(iter(response)) == b"first"
    response.close()  # what the WSGI server does when the client went away
    assert ended == ["released"]


@pytest.mark.django_db(transaction=True)  # the recording's on_commit must run
def test_a_cold_manifest_is_put_into_distribution_after_the_answer(
    make_project, monkeypatch, tmp_path
):
    """materialize() (a query and a stat per blob, or distribution's PUT) is not on the
    cold manifest's path: the answer's bytes are CachedManifest's."""
    from django.test import RequestFactory

    from proxy_cache import gate, manifests
    from tests.proxy_upstream import bare_registry, push_image

    put: list[str] = []
    monkeypatch.setattr(manifests, "materialize", lambda name: put.append(name) or 0)
    with bare_registry(tmp_path / "upstream") as registry:
        image = push_image(registry, "team/app", "v1")
        endpoint = RegistryEndpoint.objects.create(
            name="up", type="docker-registry", url=registry.url, insecure=True
        )
        project = make_project("cache")
        Project.objects.filter(pk=project.pk).update(registry_id=endpoint.pk)
        project.refresh_from_db()
        request = RequestFactory().get("/v2/cache/team/app/manifests/v1")

        response = gate.HANDLER.manifest(request, project, "cache/team/app", "v1", "admin")

        assert response.status_code == 200
        assert response["Docker-Content-Digest"] == image.digest
        assert put == []  # not before the answer
        response.close()  # the server closes it after its last byte
    assert put == ["cache/team/app"]
