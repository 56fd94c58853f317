"""/api/v2.0/health: storage writability (filesystem, and S3 against a real SeaweedFS), answers
bounded in time when Redis or the registry hang, Harbor's response shape throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harbor_py import health
from registry import upstream
from tests.contract import assert_matches
from tests.seaweedfs import SeaweedFS

pytestmark = pytest.mark.django_db(transaction=True)


def _by_name(response) -> dict[str, dict[str, str]]:
    assert_matches("getHealth", response, 200)
    return {c["name"]: c for c in response.json()["components"]}


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP port that completes connections (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def fs_storage(settings, tmp_path: Path) -> Path:
    settings.HARBOR = {**settings.HARBOR, "STORAGE": "filesystem", "STORAGE_ROOT": str(tmp_path)}
    return tmp_path


def test_components_in_harbors_shape(anon_client, fs_storage):
    components = _by_name(anon_client.get("/api/v2.0/health"))
    assert list(components)[:6] == [
        "core",
        "database",
        "redis",
        "registry",
        "storage",
        "jobservice",
    ]
    assert components["storage"] == {"name": "storage", "status": "healthy"}
    assert list(fs_storage.iterdir()) == []  # the probe file is gone
    # No worker runs under the unit tests: jobservice says so, and no worker is listed.
    assert components["jobservice"]["error"] == "no Celery worker answered"
    assert not [name for name in components if name.startswith("worker:")]


def test_storage_root_that_is_not_a_directory_is_unhealthy(anon_client, settings, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    settings.HARBOR = {**settings.HARBOR, "STORAGE": "filesystem", "STORAGE_ROOT": str(not_a_dir)}
    response = anon_client.get("/api/v2.0/health")
    storage = _by_name(response)["storage"]
    assert storage["status"] == "unhealthy" and "not a directory" in storage["error"]
    assert response.json()["status"] == "unhealthy"


def test_hung_redis_and_registry_do_not_hang_the_endpoint(
    anon_client, settings, black_hole, fs_storage, monkeypatch
):
    monkeypatch.setattr(health, "CHECK_SECONDS", 1.0)
    settings.REDIS_URL = f"redis://127.0.0.1:{black_hole}/0"
    settings.HARBOR = {**settings.HARBOR, "REGISTRY_URL": f"http://127.0.0.1:{black_hole}"}
    upstream.reset_client()
    try:
        started = time.monotonic()
        response = anon_client.get("/api/v2.0/health")
        elapsed = time.monotonic() - started
    finally:
        upstream.reset_client()
    components = _by_name(response)
    assert elapsed < 3.0, elapsed
    assert components["redis"]["status"] == "unhealthy"
    assert components["registry"]["status"] == "unhealthy"
    assert components["database"]["status"] == "healthy"
    assert response.json()["status"] == "unhealthy"


def _s3_settings(settings, seaweedfs: SeaweedFS, bucket: str) -> None:
    settings.HARBOR = {
        **settings.HARBOR,
        "STORAGE": "s3",
        "STORAGE_ROOT": "",
        "S3": seaweedfs.harbor_s3(bucket),
    }


def test_s3_bucket_writable_or_not(anon_client, settings, seaweedfs):
    bucket = seaweedfs.new_bucket("healthy")
    _s3_settings(settings, seaweedfs, bucket)
    storage = _by_name(anon_client.get("/api/v2.0/health"))["storage"]
    assert storage["status"] == "healthy", storage
    assert seaweedfs.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0  # probe gone

    _s3_settings(settings, seaweedfs, "missing-bucket")
    storage = _by_name(anon_client.get("/api/v2.0/health"))["storage"]
    assert storage["status"] == "unhealthy" and "NoSuchBucket" in storage["error"]

    _s3_settings(settings, seaweedfs, bucket)
    settings.HARBOR["S3"]["SECRET_KEY"] = "not-the-secret"
    storage = _by_name(anon_client.get("/api/v2.0/health"))["storage"]
    assert storage["status"] == "unhealthy" and "SignatureDoesNotMatch" in storage["error"]
