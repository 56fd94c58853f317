"""/api/v2.0/health: storage writability (filesystem and S3 against moto's server), answers
bounded in time when Redis or the registry hang, Harbor's response shape throughout."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harbor_py import health
from registry import upstream
from tests.contract import assert_matches
from tests.stack import free_port

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


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _s3_settings(settings, endpoint: str, bucket: str) -> None:
    settings.HARBOR = {
        **settings.HARBOR,
        "STORAGE": "s3",
        "STORAGE_ROOT": "",
        "S3": {
            "REGION": "us-east-1",
            "ENDPOINT": endpoint,
            "BUCKET": bucket,
            "ACCESS_KEY": "health",
            "SECRET_KEY": "health-secret",
            "SECURE": False,
            "ROOT": "/registry",
        },
    }


def test_s3_bucket_writable_or_not(anon_client, settings, s3_endpoint):
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=s3_endpoint,
        aws_access_key_id="health",
        aws_secret_access_key="health-secret",
    )
    client.create_bucket(Bucket="healthy")
    _s3_settings(settings, s3_endpoint, "healthy")
    assert _by_name(anon_client.get("/api/v2.0/health"))["storage"]["status"] == "healthy"
    assert client.list_objects_v2(Bucket="healthy").get("KeyCount") == 0  # probe removed

    _s3_settings(settings, s3_endpoint, "missing-bucket")
    storage = _by_name(anon_client.get("/api/v2.0/health"))["storage"]
    assert storage["status"] == "unhealthy" and "NoSuchBucket" in storage["error"]
