"""The content-trust check at the /v2 gate (registry.pull_policy), Harbor's project
metadata `enable_content_trust_cosign` (cosign signatures) and `enable_content_trust`
(Notation signatures). With either on, a manifest GET of an artifact needs a signature of
that kind; when the project or the system trusts keys, one that verifies with a trusted key.

Cost: with both off, two dictionary lookups. With one on, an allowed pull finds its verdict
in this process's memory (Django's "local" cache), stamped with the project's content-trust
generation, which the pull has read with the project row (signatures.generations): no query,
no round trip. The verdict is computed (database, stored checks, at most one verification
per signature and key set) only on a miss. Refusals are not cached: a signature pushed a
moment later is seen at once.
Signatures, SBOMs and other accessories are always pullable, so that clients can verify."""

from __future__ import annotations

from typing import Any

from django.core.cache import caches

from registry.accessories import COSIGN, NOTATION
from registry.events import ArtifactDeleted
from registry.pull_policy import PullRequest
from signatures import generations, services

# Bounds the life of a verdict that a lost bump left valid (a process that died between the
# commit of a delete and its bump, signatures.generations); key changes bump in their commit.
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
    project = request.repository.project
    # What the verdict was computed for: the artifact, the policies and the keys (as of the
    # generation, read before the verdict is computed, so never newer than what it saw).
    stamp = f"{artifact.digest}:{'+'.join(kinds)}:{project.pk}:{project.trust_generation}"
    verdicts = caches["local"]
    key = f"sign:ok:{artifact.pk}"
    if verdicts.get(key) == stamp:
        return None
    message = services.refusal(artifact, request.repository, kinds)
    if message is None:
        verdicts.set(key, stamp, timeout=VERDICT_SECONDS)
    return message


def on_artifact_deleted(event: ArtifactDeleted, key: str) -> None:
    """A deleted artifact may have been the signature that allowed its subject."""
    generations.bump_named(event.project)
