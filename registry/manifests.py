"""Parsing pushed manifests into what the database records about them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from registry import artifact_types
from registry.names import is_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_MANIFESTS = {OCI_MANIFEST, DOCKER_MANIFEST}
INDEXES = {OCI_INDEX, DOCKER_LIST}
SUPPORTED = IMAGE_MANIFESTS | INDEXES
IMAGE_CONFIGS = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
}
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
DOCKER_SCHEMA1 = {
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
}
SCHEMA1_REFUSED = (
    "Docker image manifest schema 1 is not supported (deprecated by Docker, removed from "
    "Harbor): push the image as Docker schema 2 or OCI"
)
# What the gate asks distribution for: the manifest as stored, whatever its type.
MANIFEST_ACCEPT = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, "*/*"])


MAX_SIZE = 2**63 - 1  # OCI sizes are int64


class ManifestInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    urls: list[str] | None = None


@dataclass
class ParsedManifest:
    digest: str
    media_type: str
    size: int
    config: Descriptor | None = None
    layers: list[Descriptor] = field(default_factory=list)
    children: list[Descriptor] = field(default_factory=list)
    subject: Descriptor | None = None
    artifact_type: str = ""
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES

    @property
    def harbor_media_type(self) -> str:
        """The artifact's media type as Harbor records it (registry.artifact_types)."""
        config = None if self.is_index else (self.config.media_type if self.config else "")
        return artifact_types.harbor_media_type(self.media_type, config, self.annotations)

    @property
    def artifact_kind(self) -> str:
        """Harbor's artifact `type`."""
        return artifact_types.artifact_kind(self.harbor_media_type)

    def blob_descriptors(self) -> list[Descriptor]:
        """Every blob this manifest keeps alive, itself included (unique by digest)."""
        own = Descriptor(self.media_type, self.digest, self.size)
        seen: dict[str, Descriptor] = {own.digest: own}
        for desc in ([self.config] if self.config else []) + self.layers:
            seen.setdefault(desc.digest, desc)
        return list(seen.values())


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{where} must be an object")
    digest, size, media_type = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or not is_digest(digest):
        raise ManifestInvalid(f"{where} has an invalid digest")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_SIZE:
        raise ManifestInvalid(f"{where} has an invalid size")
    if not isinstance(media_type, str):
        raise ManifestInvalid(f"{where} has an invalid mediaType")
    platform = raw.get("platform")
    annotations = raw.get("annotations")
    urls = raw.get("urls")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform if isinstance(platform, dict) else None,
        annotations=annotations if isinstance(annotations, dict) else None,
        urls=urls if isinstance(urls, list) else None,
    )


def parse_manifest(body: bytes, content_type: str) -> ParsedManifest:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        raise ManifestInvalid("manifest is nested too deeply") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    content_type = content_type.split(";", 1)[0].strip()
    if doc.get("schemaVersion") == 1 or content_type in DOCKER_SCHEMA1:
        raise ManifestInvalid(SCHEMA1_REFUSED)
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid("only schemaVersion 2 manifests are supported")
    declared = doc.get("mediaType")
    if declared is not None and content_type and declared != content_type:
        raise ManifestInvalid("mediaType does not match the Content-Type header")
    media_type = content_type or declared or ""
    if not media_type:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in SUPPORTED:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    parsed = ParsedManifest(digest=digest_of(body), media_type=media_type, size=len(body))
    annotations = doc.get("annotations")
    parsed.annotations = annotations if isinstance(annotations, dict) else {}
    artifact_type = doc.get("artifactType", "")
    parsed.artifact_type = artifact_type if isinstance(artifact_type, str) else ""
    if "subject" in doc:
        parsed.subject = _descriptor(doc["subject"], "subject")
    if media_type in INDEXES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("an index needs a manifests list")
        parsed.children = [_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)]
        return parsed
    parsed.config = _descriptor(doc.get("config"), "config")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise ManifestInvalid("a manifest needs a layers list")
    parsed.layers = [_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    if not parsed.artifact_type and parsed.config.media_type not in IMAGE_CONFIGS | {
        OCI_EMPTY_CONFIG
    }:
        parsed.artifact_type = parsed.config.media_type
    return parsed
