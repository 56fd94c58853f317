"""Backup and restore of S3 storage: the bucket's objects go to distribution's filesystem
layout and back, through a real S3 (SeaweedFS on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.client import BaseClient

from harbor_py.ops import backup
from tests.seaweedfs import SeaweedFS

PREFIX = "root/docker/registry/v2/"
OBJECTS = {
    "blobs/sha256/ab/" + "ab" * 32 + "/data": b"layer bytes",
    "repositories/p/app/_layers/sha256/" + "ab" * 32 + "/link": b"sha256:" + b"ab" * 32,
    "repositories/p/app/_manifests/tags/v1/current/link": b"sha256:" + b"cd" * 32,
}
IN_PROGRESS = "repositories/p/app/_uploads/0b5e/data"


@pytest.fixture
def s3(settings, seaweedfs: SeaweedFS) -> Iterator[BucketClient]:
    bucket = seaweedfs.new_bucket("backup")
    settings.HARBOR = {
        **settings.HARBOR,
        "STORAGE": "s3",
        "S3": seaweedfs.harbor_s3(bucket, "root"),
    }
    yield BucketClient(seaweedfs.client(), bucket)


@dataclass
class BucketClient:
    client: BaseClient
    bucket: str

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)

    def contents(self) -> dict[str, bytes]:
        listed = self.client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {
            o["Key"]: self.client.get_object(Bucket=self.bucket, Key=o["Key"])["Body"].read()
            for o in listed
        }


def test_s3_storage_is_saved_in_the_filesystem_layout_and_restored(s3, tmp_path: Path):
    for key, body in {**OBJECTS, IN_PROGRESS: b"half"}.items():
        s3.put(PREFIX + key, body)

    saved = tmp_path / "backup" / "registry"
    assert backup.save_storage(saved) == len(OBJECTS)
    tree = saved / "docker/registry/v2"
    assert {
        p.relative_to(tree).as_posix(): p.read_bytes() for p in tree.rglob("*") if p.is_file()
    } == OBJECTS
    digest = "sha256:" + "ab" * 32
    assert backup._missing_blobs(saved, {digest}) == []
    assert backup._missing_blobs(saved, {"sha256:" + "ef" * 32}) == ["sha256:" + "ef" * 32]

    for key in list(s3.contents()):  # the bucket is lost
        s3.client.delete_object(Bucket=s3.bucket, Key=key)
    assert backup.load_storage(saved) == len(OBJECTS)
    assert s3.contents() == {PREFIX + key: body for key, body in OBJECTS.items()}


def test_a_filesystem_backup_restores_into_s3(s3, tmp_path: Path):
    saved = tmp_path / "registry"
    for key, body in OBJECTS.items():
        path = saved / "docker/registry/v2" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    backup.load_storage(saved)
    assert s3.contents() == {PREFIX + key: body for key, body in OBJECTS.items()}
