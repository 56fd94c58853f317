"""Sizing an unfinished upload on S3 (registry/s3_uploads.py) against a real SeaweedFS: the
keys and multipart uploads are made as distribution 2.8's s3 driver makes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from registry import s3_uploads, storage_probe
from tests.seaweedfs import SeaweedFS

REPOSITORY, UPLOAD = "proj/app", "0b4f1f3e-2c7a-4a8e-9a51-1f0c9d3b2e77"
PART = 5 * 1024 * 1024  # S3's smallest part but the last


@pytest.fixture
def bucket(seaweedfs: SeaweedFS) -> Iterator[tuple[Any, str]]:
    name = seaweedfs.new_bucket("uploads")
    harbor = {**settings.HARBOR, "STORAGE": "s3", "STORAGE_ROOT": ""}
    harbor["S3"] = seaweedfs.harbor_s3(name, root="/registry")
    original = settings.HARBOR
    settings.HARBOR = harbor
    s3_uploads._client.cache_clear()
    try:
        yield seaweedfs.client(), name
    finally:
        settings.HARBOR = original
        s3_uploads._client.cache_clear()


def _multipart(client: Any, bucket: str, sizes: list[int]) -> str:
    key = s3_uploads.data_key(REPOSITORY, UPLOAD)
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number, size in enumerate(sizes, start=1):
        client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=b"x" * size
        )
    return key


def test_the_key_is_distributions(bucket) -> None:
    assert s3_uploads.data_key(REPOSITORY, UPLOAD) == (
        f"registry/docker/registry/v2/repositories/{REPOSITORY}/_uploads/{UPLOAD}/data"
    )


def test_an_upload_is_the_sum_of_its_parts(bucket) -> None:
    client, name = bucket
    _multipart(client, name, [PART, 1000])
    assert storage_probe.upload_size(REPOSITORY, UPLOAD) == PART + 1000


def test_a_started_upload_without_data_is_empty(bucket) -> None:
    client, name = bucket
    _multipart(client, name, [])
    assert storage_probe.upload_size(REPOSITORY, UPLOAD) == 0


def test_data_written_as_an_object_is_sized_by_head(bucket) -> None:
    client, name = bucket
    client.put_object(Bucket=name, Key=s3_uploads.data_key(REPOSITORY, UPLOAD), Body=b"y" * 77)
    assert storage_probe.upload_size(REPOSITORY, UPLOAD) == 77


def test_an_unknown_upload_is_none(bucket) -> None:
    client, name = bucket
    _multipart(client, name, [10])  # another upload's key shares the prefix, not the key
    assert storage_probe.upload_size(REPOSITORY, UPLOAD[:-1]) is None


def test_s3_that_cannot_be_asked_leaves_the_check_to_distribution(bucket) -> None:
    settings.HARBOR["S3"]["ENDPOINT"] = "http://127.0.0.1:9"  # nothing listens
    s3_uploads._client.cache_clear()
    assert storage_probe.upload_size(REPOSITORY, UPLOAD) is storage_probe.UNKNOWN
