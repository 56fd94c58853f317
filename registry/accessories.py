"""Accessories: artifacts that belong to another (their subject), by Harbor's rules.

An accessory is linked to its subject either by OCI 1.1's `subject` field (the referrers
API lists it) or by cosign's tag scheme: a manifest tagged `sha256-<hex>.sig` (`.att`,
`.sbom`) belongs to the artifact `sha256:<hex>` of the same repository. The link is the
subject's digest (`Artifact.subject_digest`), so an accessory pushed before its subject is
adopted as soon as the subject arrives: listings, deletes and GC all join on the digest.

Harbor's accessory types: `signature.cosign`, `signature.notation`, `harbor.sbom`, and
`subject.accessory` for any other attached artifact (attestations, SBOMs of other tools).
"""

from __future__ import annotations

import re

from registry.manifests import ParsedManifest

COSIGN = "signature.cosign"
NOTATION = "signature.notation"
SBOM = "harbor.sbom"
OTHER = "subject.accessory"
SIGNATURE_TYPES = (COSIGN, NOTATION)

COSIGN_ARTIFACT_TYPE = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
NOTATION_ARTIFACT_TYPE = "application/vnd.cncf.notary.signature"
HARBOR_SBOM_ARTIFACT_TYPE = "application/vnd.goharbor.harbor.sbom.v1"

BY_ARTIFACT_TYPE = {
    COSIGN_ARTIFACT_TYPE: COSIGN,
    NOTATION_ARTIFACT_TYPE: NOTATION,
    HARBOR_SBOM_ARTIFACT_TYPE: SBOM,
}
_COSIGN_TAG = re.compile(r"^sha256-([a-f0-9]{64})\.(sig|att|sbom)$")


def cosign_tag(digest: str) -> str:
    """The tag cosign's tag scheme gives the signature of `digest`."""
    return digest.replace(":", "-", 1) + ".sig"


def scheme_tags(digest: str) -> tuple[str, ...]:
    """The tags cosign's tag scheme links to `digest` (signature, attestation, SBOM)."""
    base = digest.replace(":", "-", 1)
    return (f"{base}.sig", f"{base}.att", f"{base}.sbom")


def _cosign_layers(parsed: ParsedManifest) -> bool:
    return bool(parsed.layers) and all(
        layer.media_type == COSIGN_SIMPLE_SIGNING for layer in parsed.layers
    )


def classify(parsed: ParsedManifest, tag: str | None) -> tuple[str, str]:
    """(subject digest, accessory type) of a pushed manifest; ("", "") when it is no
    accessory."""
    if parsed.subject is not None:
        kind = BY_ARTIFACT_TYPE.get(parsed.artifact_type)
        if kind is None:
            kind = COSIGN if _cosign_layers(parsed) else OTHER
        return parsed.subject.digest, kind
    match = _COSIGN_TAG.match(tag or "")
    if match is None or parsed.is_index:
        return "", ""
    subject = f"sha256:{match.group(1)}"
    if match.group(2) == "sig" and _cosign_layers(parsed):
        return subject, COSIGN
    return subject, OTHER


def type_of(accessory_type: str, artifact_type: str) -> str:
    """The type an accessory row shows: as recorded at push, else (rows recorded before
    the type was) by its artifact type."""
    return accessory_type or BY_ARTIFACT_TYPE.get(artifact_type, OTHER)
