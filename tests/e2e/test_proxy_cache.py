"""Proxy-cache projects end to end (issue #24): a real distribution upstream (plain, with
htpasswd, and as Docker Hub's `library/` layout) behind a fault-injecting relay that keeps
the upstream's access log (tests/proxy_upstream.py), skopeo and plain HTTP clients pulling
through a whole instance."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

from tests.contract import assert_matches
from tests.e2e.replication_support import ADMIN, create_endpoint
from tests.imagegen import layout_blobs, make_image
from tests.proxy_upstream import (
    BareRegistry,
    FaultyRelay,
    bare_registry,
    delete_manifest,
    push_image,
    push_index,
)
from tests.stack import Instance, jwt_claims, running_instance, skopeo

API = "/api/v2.0"
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@pytest.fixture(scope="module")
def upstream(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BareRegistry, FaultyRelay]]:
    with (
        bare_registry(tmp_path_factory.mktemp("upstream")) as registry,
        FaultyRelay(registry.url) as relay,
    ):
        yield registry, relay


@pytest.fixture
def relay(upstream: tuple[BareRegistry, FaultyRelay]) -> Iterator[FaultyRelay]:
    found = upstream[1]
    found.mode, found.cut_next_blob, found.cut_only = "ok", None, ""
    found.clear()
    yield found
    found.mode, found.cut_next_blob, found.cut_only = "ok", None, ""
    found.fail_next_blob_get, found.redirect_blobs_to = None, None


def proxy_project(
    stack: Instance,
    url: str,
    *,
    kind: str = "docker-registry",
    credentials: tuple[str, str] | None = None,
    public: bool = False,
) -> str:
    """A proxy-cache project of a new endpoint (so no other test's upstream health)."""
    name = f"px{uuid.uuid4().hex[:8]}"
    endpoint = create_endpoint(stack, url, f"ep-{name}", kind=kind, credentials=credentials)
    with stack.client() as api:
        response = api.post(
            f"{API}/projects",
            json={
                "project_name": name,
                "registry_id": endpoint,
                "metadata": {"public": str(public).lower()},
            },
        )
    assert response.status_code == 201, response.text
    return name


def pull(stack: Instance, ref: str, dest: Path, *, check: bool = True):
    return skopeo("copy", f"docker://{stack.host}/{ref}", f"oci:{dest}:x", creds=ADMIN, check=check)


def cached_link(stack: Instance, repository: str, digest: str) -> Path:
    root = stack.data_dir / "registry" / "docker" / "registry" / "v2" / "repositories"
    return root / repository / "_layers" / "sha256" / digest.split(":")[1] / "link"


def wait_cached(stack: Instance, repository: str, digests: list[str], timeout: float = 30) -> None:
    """The blobs are linked into the repository's storage (the writer commits them just
    after the client got the last byte)."""
    deadline = time.monotonic() + timeout
    while not all(cached_link(stack, repository, d).exists() for d in digests):
        assert time.monotonic() < deadline, f"not cached: {digests}"
        time.sleep(0.1)


def artifacts(stack: Instance, project: str, repository: str) -> list[dict]:
    quoted = repository.removeprefix(f"{project}/").replace("/", "%252F")
    with stack.client() as api:
        response = api.get(
            f"{API}/projects/{project}/repositories/{quoted}/artifacts", params={"with_tag": True}
        )
    assert_matches("listArtifacts", response, 200)
    return response.json()


def job_log(stack: Instance, project: str) -> str:
    """Today's proxy-cache job log of the project (proxy_cache/services.py), "" for none."""
    code = (
        "from projects.models import Project; from proxy_cache.selectors import job_logs; "
        f"logs = job_logs(Project.objects.get(name={project!r}).pk); "
        "print(logs[0]['log'] if logs else '')"
    )
    return stack.manage("shell", "-c", code).stdout


def token(stack: Instance, repository: str) -> str:
    return stack.token([f"repository:{repository}:pull"], auth=ADMIN)["token"]


def test_cold_pull_streams_and_records_warm_pull_costs_one_head(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    registry = upstream[0]
    image = push_image(registry, "team/app", "v1")
    project = proxy_project(stack, relay.url)
    with stack.client() as api:
        listed = api.get(f"{API}/projects", params={"name": project})
    assert_matches("listProjects", listed, 200)
    assert listed.json()[0]["registry_id"] > 0

    pull(stack, f"{project}/team/app:v1", tmp_path / "cold")
    got = layout_blobs(tmp_path / "cold")
    assert all(got[digest] == data for digest, data in image.blobs.items())
    for digest in image.blobs:  # each blob fetched once from the upstream
        assert relay.count("GET", f"/blobs/{digest}") == 1
    # by nginx, handed over by the gate (not by a gunicorn thread) without a HEAD for a
    # blob the manifest listed (every web process knows how the upstream authenticates
    # from the one that fetched the manifest)
    assert relay.count("HEAD", "/blobs/") == 0
    # nothing cached for the tag: one GET by tag, no HEAD first
    assert relay.count("GET", "/manifests/v1") == 1
    assert relay.count("HEAD", "/manifests/") == 0
    assert relay.count("GET", "/manifests/") == 1
    # recorded at once, with its tag
    found = artifacts(stack, project, f"{project}/team/app")
    assert [(a["digest"], [t["name"] for t in a["tags"]]) for a in found] == [
        (image.digest, ["v1"])
    ]

    wait_cached(stack, f"{project}/team/app", list(image.blobs))
    # nginx's staging files were checked and moved into storage: none is left behind
    assert list((stack.data_dir / "proxy-staging").iterdir()) == []
    # the project's job log says what was fetched and what became of it
    log = job_log(stack, project)
    assert f"fetched the manifest of {project}/team/app:v1 ({image.digest})" in log
    for digest in image.blobs:
        assert f"fetched blob {digest} of {project}/team/app" in log
    assert log.count("(by nginx): checked against the digest and cached") == len(image.blobs)
    relay.clear()
    pull(stack, f"{project}/team/app:v1", tmp_path / "warm")
    assert layout_blobs(tmp_path / "warm") == got
    # a warm tag pull asks the upstream one HEAD, and fetches nothing
    assert relay.count("HEAD", "/manifests/v1") == 1
    assert relay.count("GET", "/") == 0


def test_tag_moved_then_deleted_upstream_and_pull_by_digest(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    registry = upstream[0]
    first = push_image(registry, "team/moving", "v1", layer_sizes=(4000,))
    project = proxy_project(stack, relay.url)
    pull(stack, f"{project}/team/moving:v1", tmp_path / "a")
    second = push_image(registry, "team/moving", "v1", layer_sizes=(5000,))  # moves v1
    pull(stack, f"{project}/team/moving:v1", tmp_path / "b")
    assert set(second.blobs) <= set(layout_blobs(tmp_path / "b"))
    tagged = {
        a["digest"]: [t["name"] for t in a["tags"] or []]
        for a in artifacts(stack, project, f"{project}/team/moving")
    }
    assert tagged == {first.digest: [], second.digest: ["v1"]}

    # the tag is gone upstream: the cached copy is served, and the audit log says why
    delete_manifest(registry, "team/moving", second.digest)
    relay.clear()
    pull(stack, f"{project}/team/moving:v1", tmp_path / "c")
    assert set(second.blobs) <= set(layout_blobs(tmp_path / "c"))
    with stack.client() as api:
        logs = api.get(f"{API}/projects/{project}/auditlog-exts", params={"page_size": 100})
    assert logs.status_code == 200, logs.text
    stale = [e for e in logs.json() if "served from the proxy cache" in e["operation_description"]]
    assert stale and "gone" in stale[0]["operation_description"]
    assert f"served {project}/team/moving:v1 from the cache: the tag v1 is gone" in job_log(
        stack, project
    )

    # by digest: the cached copy, no upstream request at all
    wait_cached(stack, f"{project}/team/moving", list(first.blobs))
    relay.clear()
    pull(stack, f"{project}/team/moving@{first.digest}", tmp_path / "d")
    assert relay.log == []


def manifest_get(stack: Instance, repository: str, reference: str) -> httpx.Response:
    bearer = token(stack, repository)
    return httpx.get(
        f"{stack.url}/v2/{repository}/manifests/{reference}",
        headers={"Authorization": f"Bearer {bearer}", "Accept": ACCEPT},
        timeout=60,
    )


def test_a_cold_manifest_is_answered_before_its_job_log_line_is_written(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay
):
    image = push_image(upstream[0], "team/logged", "v1")
    project = proxy_project(stack, relay.url)
    with stack.client() as api:
        project_id = api.get(f"{API}/projects/{project}").json()["project_id"]
    # another process creating the project's job log of today holds its lock: the line
    # waits for it (5 s at most, proxy_cache/services.py), which the client must not
    day = datetime.now(UTC).date().isoformat()
    held = redis.Redis(unix_socket_path=str(stack.data_dir / "run" / "redis.sock"))
    held.set(f"harbor:proxy:flight:joblog:{project_id}:{day}", "elsewhere", px=6000)
    bearer = token(stack, f"{project}/team/logged")
    started = time.monotonic()
    response = httpx.get(
        f"{stack.url}/v2/{project}/team/logged/manifests/v1",
        headers={"Authorization": f"Bearer {bearer}", "Accept": ACCEPT},
        timeout=60,
    )
    answered = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.headers["Docker-Content-Digest"] == image.digest
    assert answered < 4.0  # the granian wrapper closed the answer before sending it: 5 s
    deadline = time.monotonic() + 30
    while f"fetched the manifest of {project}/team/logged:v1" not in job_log(stack, project):
        assert time.monotonic() < deadline, "the job log line was never written"
        time.sleep(1)


@pytest.mark.parametrize("fault", [503, 429, 401, "down"])
def test_a_failing_upstream_is_answered_from_the_cache(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, fault
):
    registry = upstream[0]
    image = push_image(registry, "team/steady", "v1", layer_sizes=(3000,))
    project = proxy_project(stack, relay.url)
    assert manifest_get(stack, f"{project}/team/steady", "v1").status_code == 200
    relay.mode = fault
    relay.clear()
    stale = manifest_get(stack, f"{project}/team/steady", "v1")
    assert stale.status_code == 200, stale.text
    assert stale.headers["Docker-Content-Digest"] == image.digest
    assert "proxy cache" in stale.headers["Warning"]
    assert relay.count("HEAD", "/manifests/v1") == 1  # it did ask


def test_upstream_down_the_breaker_spares_the_timeout_and_uncached_is_a_clear_error(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    registry = upstream[0]
    image = push_image(registry, "team/steady", "v1", layer_sizes=(3000,))
    push_image(registry, "team/never", "v1", layer_sizes=(3000,))
    project = proxy_project(stack, relay.url)
    pull(stack, f"{project}/team/steady:v1", tmp_path / "a")
    wait_cached(stack, f"{project}/team/steady", list(image.blobs))

    relay.mode = "down"
    for attempt in range(2):
        pull(stack, f"{project}/team/steady:v1", tmp_path / f"b{attempt}")
        assert set(image.blobs) <= set(layout_blobs(tmp_path / f"b{attempt}"))
    # two failures in a row: the upstream is left alone for a while
    relay.clear()
    pull(stack, f"{project}/team/steady:v1", tmp_path / "c")
    assert relay.log == []
    with stack.client() as api:
        registries = api.get(f"{API}/registries", params={"q": f"name=ep-{project}"}).json()
    assert registries[0]["status"] == "unhealthy"
    # not cached and no upstream: a clear OCI error, not a hang or a 500
    response = manifest_get(stack, f"{project}/team/never", "v1")
    assert response.status_code == 503, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "UNAVAILABLE"
    assert "not cached" in error["message"]
    # an endpoint nobody listens on: refused at once, the same error
    dead = proxy_project(stack, "http://127.0.0.1:9")
    response = manifest_get(stack, f"{dead}/team/never", "v1")
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["code"] == "UNAVAILABLE"


def test_upstream_breaks_off_mid_blob_the_retry_succeeds_and_nothing_partial_is_kept(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    registry = upstream[0]
    image = push_image(registry, "team/cut", "v1", layer_sizes=(3_000_000,))
    layer = image.manifest["layers"][0]["digest"]
    project = proxy_project(stack, relay.url)
    bearer = token(stack, f"{project}/team/cut")
    headers = {"Authorization": f"Bearer {bearer}"}
    manifest = httpx.get(
        f"{stack.url}/v2/{project}/team/cut/manifests/v1",
        headers={**headers, "Accept": ACCEPT},
        timeout=60,
    )
    assert manifest.status_code == 200, manifest.text
    relay.cut_next_blob = 1_000_000
    url = f"{stack.url}/v2/{project}/team/cut/blobs/{layer}"
    received = bytearray()
    with pytest.raises(httpx.HTTPError), httpx.stream("GET", url, headers=headers) as broken:
        assert broken.status_code == 200  # streamed: the answer began before the break
        for chunk in broken.iter_raw():
            received += chunk
    assert 0 < len(received) <= 1_000_000
    assert not cached_link(stack, f"{project}/team/cut", layer).exists()
    # the client resumes where it stopped: the rest, while the whole blob is cached
    again = httpx.get(url, headers={**headers, "Range": f"bytes={len(received)}-"}, timeout=60)
    assert again.status_code == 206, again.text
    assert again.headers["Content-Range"].endswith(f"/{len(image.blobs[layer])}")
    assert "sha256:" + hashlib.sha256(bytes(received) + again.content).hexdigest() == layer
    wait_cached(stack, f"{project}/team/cut", [layer])
    blob = stack.data_dir / "registry/docker/registry/v2/blobs/sha256" / layer[7:9] / layer[7:]
    assert hashlib.sha256((blob / "data").read_bytes()).hexdigest() == layer[7:]
    # and skopeo's own retry gets an image whose layer breaks off whole
    other = push_image(registry, "team/cut2", "v1", layer_sizes=(3_000_000,))
    relay.cut_only = other.manifest["layers"][0]["digest"]
    relay.cut_next_blob = 1_500_000
    relay.clear()
    # skopeo 1.9 neither resumes nor retries a body that breaks off: the user runs it again
    broken = pull(stack, f"{project}/team/cut2:v1", tmp_path / "skopeo1", check=False)
    assert broken.returncode != 0 and "unexpected EOF" in broken.stderr
    assert relay.cut_next_blob is None  # the break happened
    pull(stack, f"{project}/team/cut2:v1", tmp_path / "skopeo2")
    assert set(other.blobs) <= set(layout_blobs(tmp_path / "skopeo2"))


def test_twenty_concurrent_cold_pulls_fetch_each_blob_once(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay
):
    registry = upstream[0]
    image = push_image(registry, "team/crowd", "v1", layer_sizes=(2_000_000, 300_000))
    project = proxy_project(stack, relay.url)
    bearer = token(stack, f"{project}/team/crowd")
    headers = {"Authorization": f"Bearer {bearer}"}

    def client_pull(_: int) -> dict[str, str]:
        with httpx.Client(base_url=stack.url, headers=headers, timeout=120) as client:
            answer = client.get(
                f"/v2/{project}/team/crowd/manifests/v1", headers={"Accept": ACCEPT}
            )
            assert answer.status_code == 200, answer.text
            doc = answer.json()
            got = {}
            for desc in [doc["config"], *doc["layers"]]:
                blob = client.get(f"/v2/{project}/team/crowd/blobs/{desc['digest']}")
                assert blob.status_code == 200, blob.text
                got[desc["digest"]] = "sha256:" + hashlib.sha256(blob.content).hexdigest()
            return got

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(client_pull, range(20)))
    for got in results:
        assert all(digest == computed for digest, computed in got.items())
    for digest in image.blobs:
        assert relay.count("GET", f"/blobs/{digest}") == 1, relay.log
    assert relay.count("GET", "/manifests/") == 1, relay.log


def test_multi_arch_index_children_on_demand(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    registry = upstream[0]
    index, children = push_index(registry, "team/multi", "v1", ("amd64", "arm64"))
    project = proxy_project(stack, relay.url)
    skopeo(
        "copy",
        "--all",
        f"docker://{stack.host}/{project}/team/multi:v1",
        f"oci:{tmp_path / 'all'}:v1",
        creds=ADMIN,
    )
    got = layout_blobs(tmp_path / "all")
    assert index in got and all(child.digest in got for child in children)
    found = {a["digest"]: a for a in artifacts(stack, project, f"{project}/team/multi")}
    assert found[index]["tags"][0]["name"] == "v1"
    refs = {r["child_digest"] for r in found[index]["references"]}
    assert refs == {child.digest for child in children}


def test_private_proxy_project_refuses_anonymous_and_pushes_are_refused(
    stack: Instance, relay: FaultyRelay, tmp_path: Path
):
    project = proxy_project(stack, relay.url)
    anonymous = httpx.get(
        f"{stack.url}/v2/{project}/team/app/manifests/v1", headers={"Accept": ACCEPT}, timeout=30
    )
    assert anonymous.status_code == 401
    anonymous_token = httpx.get(
        f"{stack.url}/service/token",
        params={"service": "harbor-registry", "scope": f"repository:{project}/team/app:pull"},
        timeout=30,
    ).json()["token"]
    refused = httpx.get(
        f"{stack.url}/v2/{project}/team/app/manifests/v1",
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {anonymous_token}"},
        timeout=30,
    )
    assert refused.status_code == 401, refused.text
    assert relay.log == []
    # an admin's push is refused as Harbor refuses it
    push_token = stack.token([f"repository:{project}/team/app:pull,push"], auth=ADMIN)["token"]
    assert jwt_claims(push_token)["access"][0]["actions"] == ["pull"]  # no push, even for admin
    put = httpx.put(
        f"{stack.url}/v2/{project}/team/app/manifests/v1",
        content=b"{}",
        headers={
            "Authorization": f"Bearer {push_token}",
            "Content-Type": "application/vnd.oci.image.manifest.v1+json",
        },
        timeout=30,
    )
    assert put.status_code == 403
    assert put.json()["errors"][0]["code"] == "DENIED"
    assert "proxy project" in put.json()["errors"][0]["message"]
    upload = httpx.post(
        f"{stack.url}/v2/{project}/team/app/blobs/uploads/",
        headers={"Authorization": f"Bearer {push_token}"},
        timeout=30,
    )
    assert upload.status_code == 403, upload.text


def test_htpasswd_upstream_and_docker_hub_library_layout(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    with bare_registry(
        tmp_path_factory.mktemp("hub"), htpasswd=("hubuser", "hubsecret")
    ) as registry:
        image = push_image(registry, "library/nginx", "latest", layer_sizes=(5000,))
        # wrong credentials: a clear error
        wrong = proxy_project(stack, registry.url, credentials=("hubuser", "nope"))
        failed = pull(stack, f"{wrong}/library/nginx:latest", tmp_path / "x", check=False)
        assert failed.returncode != 0
        # Docker Hub's layout: an official image is `library/<name>` upstream
        project = proxy_project(
            stack, registry.url, kind="docker-hub", credentials=("hubuser", "hubsecret")
        )
        pull(stack, f"{project}/nginx:latest", tmp_path / "hub")
        assert set(image.blobs) <= set(layout_blobs(tmp_path / "hub"))
        pull(stack, f"{project}/library/nginx:latest", tmp_path / "hub2")
        # one image, stored once under the name Harbor shows, whichever name was pulled
        with stack.client() as api:
            listed = api.get(f"{API}/projects/{project}/repositories")
        assert [r["name"] for r in listed.json()] == [f"{project}/library/nginx"]
        wait_cached(stack, f"{project}/library/nginx", list(image.blobs))
        assert not (cached_link(stack, f"{project}/nginx", image.digest).parent.parent).exists()
        # the short name again: its blobs are the cached ones, served by distribution
        pull(stack, f"{project}/nginx:latest", tmp_path / "hub3")
        assert layout_blobs(tmp_path / "hub3") == layout_blobs(tmp_path / "hub")


@pytest.mark.slow
def test_a_second_harbor_py_instance_as_a_harbor_upstream(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    with running_instance(tmp_path_factory.mktemp("harbor-upstream")) as other:
        other.create_project("lib")
        image = make_image(tmp_path / "layout", layer_sizes=[200_000, 3000])
        skopeo("copy", image.ref, f"docker://{other.host}/lib/app:v1", creds=ADMIN)
        project = proxy_project(stack, other.url, kind="harbor", credentials=ADMIN)
        pull(stack, f"{project}/lib/app:v1", tmp_path / "through")
        assert layout_blobs(tmp_path / "through") == layout_blobs(image.path)
        found = artifacts(stack, project, f"{project}/lib/app")
        assert found[0]["digest"] == image.manifest_digest


def _project_id(stack: Instance, project: str) -> int:
    with stack.client() as api:
        return int(api.get(f"{API}/projects/{project}").json()["project_id"])


def _until(check, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while (found := check()) is None:
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.5)
    return found


def test_quota_immutability_and_retention_apply_to_what_a_proxy_project_caches(
    stack: Instance, upstream: tuple[BareRegistry, FaultyRelay], relay: FaultyRelay, tmp_path: Path
):
    """Harbor's rules on a proxy project: an immutable tag keeps its cached digest when it
    moves upstream (the client still gets the new one), retention deletes cached artifacts
    (and their cached manifests: the next pull by digest asks the upstream again), and an
    image over the quota is served but neither recorded nor kept."""
    registry = upstream[0]
    first = push_image(registry, "team/rules", "v1", layer_sizes=(4000,))
    old = push_image(registry, "team/rules", "old", layer_sizes=(4500,))
    project = proxy_project(stack, relay.url)
    repository = f"{project}/team/rules"
    assert manifest_get(stack, repository, "v1").status_code == 200
    assert manifest_get(stack, repository, "old").status_code == 200

    # immutability: v1 is protected here; it moves upstream
    rule = {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }
    with stack.client() as api:
        created = api.post(f"{API}/projects/{project}/immutabletagrules", json=rule)
    assert created.status_code == 201, created.text
    moved = push_image(registry, "team/rules", "v1", layer_sizes=(5000,))
    served = manifest_get(stack, repository, "v1")
    assert served.status_code == 200 and served.headers["Docker-Content-Digest"] == moved.digest
    tags = {
        a["digest"]: [t["name"] for t in a["tags"] or []]
        for a in artifacts(stack, project, repository)
    }
    assert tags[first.digest] == ["v1"] and moved.digest not in tags

    # retention: keep the most recently pushed v* only; `old` goes, with its cached manifest
    every = [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
    policy = {
        "algorithm": "or",
        "rules": [
            {
                "template": "latestPushedK",
                "params": {"latestPushedK": 1},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
                "scope_selectors": {"repository": every},
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}, "references": {}},
        "scope": {"level": "project", "ref": _project_id(stack, project)},
    }
    with stack.client() as api:
        created = api.post(f"{API}/retentions", json=policy)
        assert created.status_code == 201, created.text
        base = created.headers["Location"].replace("/api/v2.0", "")
        assert api.post(f"{API}{base}/executions", json={"dry_run": False}).status_code == 201

        def finished() -> dict | None:
            found = api.get(f"{API}{base}/executions").json()
            return found[0] if found and found[0]["status"] not in ("Pending", "Running") else None

        assert _until(finished, "the retention run")["status"] == "Success"
    remaining = {a["digest"] for a in artifacts(stack, project, repository)}
    assert old.digest not in remaining and first.digest in remaining
    relay.clear()
    again = manifest_get(stack, repository, old.digest)  # not cached any more: fetched anew
    assert again.status_code == 200
    assert relay.count("GET", f"/manifests/{old.digest}") == 1

    # quota: a project whose limit the next image exceeds
    quota_project = proxy_project(stack, relay.url)
    with stack.client() as api:
        (quota,) = api.get(
            f"{API}/quotas", params={"reference_id": _project_id(stack, quota_project)}
        ).json()
        limited = api.put(f"{API}/quotas/{quota['id']}", json={"hard": {"storage": 1000}})
    assert limited.status_code == 200, limited.text
    over = manifest_get(stack, f"{quota_project}/team/rules", "v1")
    assert over.status_code == 200 and over.headers["Docker-Content-Digest"] == moved.digest
    with stack.client() as api:
        listed = api.get(f"{API}/projects/{quota_project}/repositories").json()
    assert [r["artifact_count"] for r in listed] in ([], [0])  # not recorded
    relay.clear()
    assert manifest_get(stack, f"{quota_project}/team/rules", moved.digest).status_code == 200
    assert relay.count("GET", f"/manifests/{moved.digest}") == 1  # nothing was kept
