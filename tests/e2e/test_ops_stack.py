"""A real instance with the metrics exporter on its own listener: what Prometheus scrapes
after pushes and pulls, that the public port does not serve it, and read-only mode against
skopeo (pushes and deletes refused, pulls and logins kept, a token minted before the switch
cannot delete through nginx)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.imagegen import layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, Instance, free_port, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
READ_ONLY_MESSAGE = "The system is in read only mode. Any modification is prohibited."


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, str]]:
    listen = f"127.0.0.1:{free_port()}"
    with running_instance(
        tmp_path_factory.mktemp("ops"), extra_env={"HARBOR_METRICS_LISTEN": listen}
    ) as instance:
        yield instance, f"http://{listen}/metrics"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    deadline = time.monotonic() + 30
    while True:
        try:
            text = httpx.get(url, timeout=10).text
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_push_and_pull(ops: tuple[Instance, str], tmp_path: Path) -> None:
    instance, url = ops
    project = f"secret{uuid.uuid4().hex[:8]}"  # private: its name must not reach anonymous users
    instance.create_project(project)
    image = make_image(tmp_path / "src", layer_sizes=[300_000, 1000])
    target = f"docker://{instance.host}/{project}/app:v1"
    skopeo("copy", image.ref, target, creds=ADMIN)
    skopeo("copy", target, f"oci:{tmp_path / 'out'}:v1", creds=ADMIN)

    def settled() -> dict:
        # Tasks run in the worker (other processes than the web app's): wait for their counts.
        deadline = time.monotonic() + 40
        while True:
            samples = scrape(url)
            tasks = sum(v for (n, _), v in samples.items() if n == "harbor_celery_tasks_total")
            if tasks > 0 or time.monotonic() > deadline:
                return samples
            time.sleep(1)

    samples = settled()
    manifests = "^v2/(?P<name>[^?#]+?)/manifests/(?P<reference>[^/]+)$"
    assert (
        value(
            samples,
            "harbor_http_request_duration_seconds_count",
            route=manifests,
            method="PUT",
            status="201",
        )
        >= 1
    )
    assert (
        value(
            samples,
            "harbor_http_request_duration_seconds_count",
            route=manifests,
            method="GET",
            status="200",
        )
        >= 1
    )
    assert not [key for key in samples if any(project in v for _, v in key[1] if _ == "route")]
    assert value(samples, "harbor_token_request_duration_seconds_count", outcome="issued") >= 2
    outcomes = {
        dict(labels)["outcome"] for (n, labels) in samples if n == "harbor_celery_tasks_total"
    }
    assert "success" in outcomes
    assert ("harbor_celery_queue_length", (("queue", "celery"),)) in samples
    assert value(samples, "harbor_project_artifacts", project=project) == 1
    stored = sum(len(data) for data in layout_blobs(image.path).values())
    assert value(samples, "harbor_project_storage_bytes", project=project) == stored

    # The public port does not serve metrics, so private project names stay private.
    with instance.client(None) as anonymous:
        public = anonymous.get("/metrics")
    assert public.status_code == 404 and project not in public.text


def test_read_only_mode_with_skopeo(ops: tuple[Instance, str], tmp_path: Path) -> None:
    instance, _ = ops
    project = f"ro{uuid.uuid4().hex[:8]}"
    instance.create_project(project)
    image = make_image(tmp_path / "src", layer_sizes=[50_000])
    other = make_image(tmp_path / "other", layer_sizes=[60_000])
    repo = f"{instance.host}/{project}/app"
    skopeo("copy", image.ref, f"docker://{repo}:v1", creds=ADMIN)
    old = instance.token([f"repository:{project}/app:pull,push,delete"], auth=ADMIN)["token"]
    blobs = layout_blobs(image.path)
    layer = max(blobs, key=lambda digest: len(blobs[digest]))

    with instance.client() as api:
        assert api.put("/api/v2.0/configurations", json={"read_only": True}).status_code == 200
        try:
            pushed = skopeo("copy", other.ref, f"docker://{repo}:v2", creds=ADMIN, check=False)
            assert pushed.returncode != 0 and "read only mode" in pushed.stderr, pushed.stderr
            deleted = skopeo("delete", f"docker://{repo}:v1", creds=ADMIN, check=False)
            assert deleted.returncode != 0
            # A token minted before the switch: deletes and manifest puts pass through the
            # gate, which refuses them.
            with instance.client(None) as registry:
                bearer = {"Authorization": f"Bearer {old}"}
                blob = registry.delete(f"/v2/{project}/app/blobs/{layer}", headers=bearer)
                assert blob.status_code == 403
                assert blob.json()["errors"][0] == {"code": "DENIED", "message": READ_ONLY_MESSAGE}
                manifest = registry.delete(f"/v2/{project}/app/manifests/v1", headers=bearer)
                assert manifest.status_code == 403
            refused = api.post("/api/v2.0/projects", json={"project_name": f"{project}x"})
            assert refused.status_code == 403
            gc = api.post("/api/v2.0/system/gc/schedule", json={"schedule": {"type": "Manual"}})
            assert gc.status_code == 403
            # Pulls and logins keep working.
            skopeo("copy", f"docker://{repo}:v1", f"oci:{tmp_path / 'out'}:v1", creds=ADMIN)
            assert layout_blobs(tmp_path / "out") == layout_blobs(image.path)
        finally:
            assert api.put("/api/v2.0/configurations", json={"read_only": False}).status_code == 200
        tags = api.get(f"/api/v2.0/projects/{project}/repositories/app/artifacts").json()
        assert [t["name"] for a in tags for t in a["tags"] or []] == ["v1"]
    skopeo("copy", other.ref, f"docker://{repo}:v2", creds=ADMIN)  # writable again
