"""Deleting artifacts and repositories through the API: storage first, then the database.

Manifests are deleted from distribution (so pullers get MANIFEST_UNKNOWN even from a
node that still resolves the digest), then the rows go in one transaction with the audit
record. Blobs are left to garbage collection.
"""

from __future__ import annotations

import time

import httpx

from harbor_py.api.errors import HarborError
from immutable.enforcement import check_artifacts_deletable
from registry import selectors, services, upstream
from registry.models import Artifact, Repository

DELETE = frozenset({"delete"})
RETRIES = 3


def _delete_manifest(repository: str, digest: str) -> httpx.Response:
    """distribution 2.8 writes a tag's link file in place: a DELETE that reads it while a
    push is writing it fails with a 5xx ("invalid checksum digest format"). Such answers
    are retried a few times; anything else is final."""
    for attempt in range(1, RETRIES + 1):
        try:
            result = upstream.request(
                "DELETE", repository, f"/v2/{repository}/manifests/{digest}", DELETE
            )
        except httpx.HTTPError as exc:
            raise HarborError(500, f"the registry is unavailable: {exc}") from None
        if result.status_code < 500:
            break
        if attempt < RETRIES:
            time.sleep(0.05 * attempt)
    return result


def _delete_manifests(repository: str, digests: list[str]) -> None:
    for digest in digests:
        result = _delete_manifest(repository, digest)
        # 404: storage had already lost it; the rows go either way.
        if result.status_code not in (202, 404):
            raise HarborError(
                500, f"the registry refused to delete {repository}@{digest} ({result.status_code})"
            )


def delete_artifact(*, artifact: Artifact, username: str, client_address: str = "") -> None:
    doomed = selectors.deletion_set(artifact)
    if doomed is None:
        raise HarborError(
            412,
            "the deleting artifact is referenced by others",
            code="VIOLATE_FOREIGN_KEY_CONSTRAINT",
        )
    check_artifacts_deletable(doomed)
    _delete_manifests(artifact.repository.name, [a.digest for a in doomed])
    services.delete_artifacts(
        root=artifact, artifacts=doomed, username=username, client_address=client_address
    )


def delete_repository(*, repository: Repository, username: str, client_address: str = "") -> None:
    check_artifacts_deletable(repository.artifacts.all())
    digests = list(repository.artifacts.values_list("digest", flat=True))
    _delete_manifests(repository.name, digests)
    services.delete_repository(
        repository=repository, username=username, client_address=client_address
    )
