"""Answering blob HEAD from the storage directory itself, without a hop to distribution.

distribution answers HEAD /v2/<name>/blobs/<digest> with 200 when the blob is linked into
that repository (`_layers/<alg>/<hex>/link`) and its data exists; on the filesystem driver
the gate checks the same two paths with two stat calls. Every blob HEAD of a push passes the
gate (it is the GC guard), so this saves an HTTP round trip per layer.
"""

from __future__ import annotations

import os
from typing import Final

from django.conf import settings

UNKNOWN: Final = object()  # storage not readable here: ask distribution


def linked_blob_size(repository: str, digest: str) -> int | object | None:
    """The blob's size, None when the repository does not have it, or UNKNOWN."""
    root = settings.HARBOR.get("STORAGE_ROOT")
    if not root:
        return UNKNOWN
    algorithm, _, hex_digest = digest.partition(":")
    base = os.path.join(root, "docker", "registry", "v2")
    link = os.path.join(base, "repositories", repository, "_layers", algorithm, hex_digest, "link")
    data = os.path.join(base, "blobs", algorithm, hex_digest[:2], hex_digest, "data")
    try:
        os.stat(link)
        return os.stat(data).st_size
    except FileNotFoundError:
        return None
