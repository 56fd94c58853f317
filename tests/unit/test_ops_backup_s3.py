"""Backup and restore of S3 storage: the bucket's objects go to distribution's filesystem
layout and back, through a real S3 API (moto's server on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harbor_py.ops import backup
from tests.stack import free_port

moto_server = pytest.importorskip("moto.server")
BUCKET = "registry"
KEYS = {"ACCESS_KEY": "backup-test", "SECRET_KEY": "backup-test-secret"}
PREFIX = "root/docker/registry/v2/"
OBJECTS = {
    "blobs/sha256/ab/" + "ab" * 32 + "/data": b"layer bytes",
    "repositories/p/app/_layers/sha256/" + "ab" * 32 + "/link": b"sha256:" + b"ab" * 32,
    "repositories/p/app/_manifests/tags/v1/current/link": b"sha256:" + b"cd" * 32,
}
IN_PROGRESS = "repositories/p/app/_uploads/0b5e/data"


@pytest.fixture
def s3(settings, monkeypatch) -> Iterator[object]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings.HARBOR = {
        **settings.HARBOR,
        "STORAGE": "s3",
        "S3": {
            "REGION": "us-east-1",
            "ENDPOINT": endpoint,
            "BUCKET": BUCKET,
            "SECURE": False,
            "ROOT": "root",
            **KEYS,
        },
    }
    client = boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["ACCESS_KEY"],
        aws_secret_access_key=KEYS["SECRET_KEY"],
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    server.stop()


def _bucket(client) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_s3_storage_is_saved_in_the_filesystem_layout_and_restored(s3, tmp_path: Path):
    for key, body in {**OBJECTS, IN_PROGRESS: b"half"}.items():
        s3.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=body)

    saved = tmp_path / "backup" / "registry"
    assert backup.save_storage(saved) == len(OBJECTS)
    tree = saved / "docker/registry/v2"
    assert {
        p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*") if p.is_file()
    } == OBJECTS
    digest = "sha256:" + "ab" * 32
    assert backup._missing_blobs(saved, {digest}) == []
    assert backup._missing_blobs(saved, {"sha256:" + "ef" * 32}) == ["sha256:" + "ef" * 32]

    for key in list(_bucket(s3)):  # the bucket is lost
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert backup.load_storage(saved) == len(OBJECTS)
    assert _bucket(s3) == {PREFIX + key: body for key, body in OBJECTS.items()}


def test_a_filesystem_backup_restores_into_s3(s3, tmp_path: Path):
    saved = tmp_path / "registry"
    for key, body in OBJECTS.items():
        path = saved / "docker/registry/v2" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    backup.load_storage(saved)
    assert _bucket(s3) == {PREFIX + key: body for key, body in OBJECTS.items()}
