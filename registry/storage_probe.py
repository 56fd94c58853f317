"""Reading the storage directory itself, without a hop to distribution.

distribution answers HEAD /v2/<name>/blobs/<digest> with 200 when the blob is linked into
that repository (`_layers/<alg>/<hex>/link`) and its data exists; on the filesystem driver
the gate checks the same two paths with two stat calls. Every blob HEAD of a push passes the
gate (it is the GC guard), so this saves an HTTP round trip per layer. A pushed image's
config blob is read the same way (`read_small_blob`), in the push itself.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

from django.conf import settings

UNKNOWN: Final = object()  # storage not readable here: ask distribution


def _base() -> str | None:
    root = settings.HARBOR.get("STORAGE_ROOT")
    return os.path.join(root, "docker", "registry", "v2") if root else None


def _data_path(base: str, algorithm: str, hex_digest: str) -> str:
    return os.path.join(base, "blobs", algorithm, hex_digest[:2], hex_digest, "data")


def linked_blob_size(
    repository: str, digest: str, *, links: str = "_layers"
) -> int | object | None:
    """The blob's size, None when the repository does not have it, or UNKNOWN. `links` is
    the repository's link directory: `_layers` for blobs, `_manifests/revisions` for
    manifests."""
    base = _base()
    if base is None:
        return UNKNOWN
    algorithm, _, hex_digest = digest.partition(":")
    link = os.path.join(base, "repositories", repository, links, algorithm, hex_digest, "link")
    try:
        os.stat(link)
        return os.stat(_data_path(base, algorithm, hex_digest)).st_size
    except FileNotFoundError:
        return None


def upload_size(repository: str, upload_id: str) -> int | object | None:
    """The bytes an unfinished upload holds so far (distribution's offset), None when
    there is no such upload, or UNKNOWN (then distribution's own behaviour applies)."""
    base = _base()
    if base is None and settings.HARBOR.get("STORAGE") == "s3":
        from botocore.exceptions import BotoCoreError, ClientError

        from registry import s3_uploads

        try:
            return s3_uploads.upload_size(repository, upload_id)
        except (BotoCoreError, ClientError):
            return UNKNOWN  # S3 unreachable: an answer other than 2xx/403 would be a 500
    if base is None:
        return UNKNOWN
    path = os.path.join(base, "repositories", repository, "_uploads", upload_id, "data")
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def read_small_blob(digest: str, limit: int) -> bytes | object | None:
    """A blob's bytes when it is stored and at most `limit` long, checked against its
    digest; None when absent, too large or corrupt; UNKNOWN when storage is not local."""
    base = _base()
    if base is None:
        return UNKNOWN
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm not in hashlib.algorithms_guaranteed:
        return None
    try:
        with open(_data_path(base, algorithm, hex_digest), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit or hashlib.new(algorithm, data).hexdigest() != hex_digest:
        return None
    return data
