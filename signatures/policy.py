"""The content-trust check at the /v2 gate (registry.pull_policy), Harbor's project
metadata `enable_content_trust_cosign` (cosign signatures) and `enable_content_trust`
(Notation signatures). With either on, a manifest GET of an artifact needs a signature of
that kind; when the project or the system trusts keys, one that verifies with a trusted key.

Cost: with both off, two dictionary lookups. With one on, an allowed pull reads two
counters and the cached verdict from the cache in one `MGET`; the verdict is
computed (database, stored checks, at most one verification per signature and key set) only
on a miss. Refusals are not cached: a signature pushed a moment later is seen at once.
Signatures, SBOMs and other accessories are always pullable, so that clients can verify."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from registry.accessories import COSIGN, NOTATION
from registry.events import ArtifactDeleted
from registry.pull_policy import PullRequest
from signatures import generations, services

VERDICT_SECONDS = 600
POLICIES = (("enable_content_trust_cosign", COSIGN), ("enable_content_trust", NOTATION))


def kinds_of(metadata: dict[str, Any]) -> tuple[str, ...]:
    return tuple(kind for key, kind in POLICIES if metadata.get(key) == "true")


def check(request: PullRequest) -> str | None:
    metadata = request.metadata
    if metadata.get("enable_content_trust_cosign") != "true" and (
        metadata.get("enable_content_trust") != "true"
    ):
        return None
    artifact = request.artifact
    if artifact.subject_digest:
        return None  # a signature, SBOM...: pullable, so that clients can verify
    kinds = kinds_of(metadata)
    repository = request.repository
    key = f"sign:ok:{artifact.pk}"
    project_generation, system_generation, found = generations.read(repository.project.name, key)
    # The verdict holds what it was computed for: the digest, the policies and counters.
    stamp = f"{artifact.digest}:{'+'.join(kinds)}:{project_generation}:{system_generation}"
    if found.get(key) == stamp:
        return None
    message = services.refusal(artifact, repository, kinds)
    if message is None:
        cache.set(key, stamp, timeout=VERDICT_SECONDS)
    return message


def on_artifact_deleted(event: ArtifactDeleted, key: str) -> None:
    """A deleted artifact may have been the signature that allowed its subject."""
    generations.bump(event.project)
