"""Moving images for the load tests (load.py, test_gc_stress.py, test_delete_storm.py): an
OCI layout pushed with skopeo as admin, and the check that a reference pulls back as the
layout that was pushed, blob for blob."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.imagegen import ImageLayout, layout_blobs
from tests.stack import ADMIN_PASSWORD, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def push(
    host: str, layout: ImageLayout, reference: str, *, timeout: float
) -> subprocess.CompletedProcess[str]:
    """skopeo copy of `layout` to host/reference (repository:tag); the caller judges it."""
    return skopeo(
        "copy",
        layout.ref,
        f"docker://{host}/{reference}",
        creds=ADMIN,
        check=False,
        timeout=timeout,
    )


def pulls_back(
    host: str, reference: str, expected: Path, target: Path, *, timeout: float = 600
) -> str | None:
    """None when `reference` (repository:tag or repository@digest) pulls back as the OCI
    layout `expected`, blob for blob; else what went wrong."""
    pulled = skopeo(
        "copy",
        "--preserve-digests",
        f"docker://{host}/{reference}",
        f"oci:{target}:latest",
        creds=ADMIN,
        check=False,
        timeout=timeout,
    )
    if pulled.returncode != 0:
        return pulled.stderr.strip()[-300:] or f"skopeo exited with {pulled.returncode}"
    if layout_blobs(target) != layout_blobs(expected):
        return "pulled blobs differ"
    return None
