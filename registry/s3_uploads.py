"""The offset of an unfinished upload on S3, read from the bucket (registry/uploads.py).

distribution 2.8's s3 driver keeps an upload's `data` as an S3 multipart upload until the
blob is committed: every PATCH appends parts (the driver folds a small last part into the
next write), so the bytes received so far are the sum of the parts' sizes. When the driver
had to restart the multipart upload (a small last part followed by more data) it first
completes the old one, so the key may also exist as an object; its parts are then copied
into the new multipart upload, which still sums to the whole offset.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings

from harbor_py.s3 import client_from_settings


@functools.cache
def _client() -> Any:
    return client_from_settings(timeout=3, attempts=2)


def data_key(repository: str, upload_id: str) -> str:
    """distribution's key for the upload's data: rootdirectory without its leading "/"."""
    root = settings.HARBOR["S3"]["ROOT"].strip("/")
    path = f"docker/registry/v2/repositories/{repository}/_uploads/{upload_id}/data"
    return f"{root}/{path}" if root else path


def upload_size(repository: str, upload_id: str) -> int | None:
    """The bytes the upload holds so far; None when the bucket has no such upload."""
    client = _client()
    bucket = settings.HARBOR["S3"]["BUCKET"]
    key = data_key(repository, upload_id)
    listed = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    uploads = [u for u in listed.get("Uploads", []) if u["Key"] == key]
    if not uploads:
        return _object_size(client, bucket, key)
    latest = max(uploads, key=lambda u: u["Initiated"])
    size = 0
    for page in client.get_paginator("list_parts").paginate(
        Bucket=bucket, Key=key, UploadId=latest["UploadId"]
    ):
        size += sum(part["Size"] for part in page.get("Parts", []))
    return size


def _object_size(client: Any, bucket: str, key: str) -> int | None:
    """An upload whose data is a plain object (none written yet, or a completed part
    set) is sized by HEAD; no object and no multipart upload: unknown upload."""
    from botocore.exceptions import ClientError

    try:
        return int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
