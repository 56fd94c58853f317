"""Artifacts recorded the way a push records them (parse_manifest on a generated manifest,
then registry.services.record_manifest_push), for tests that need no registry."""

from __future__ import annotations

import hashlib
import itertools
import json

from projects.models import Project
from registry import services
from registry.image_config import parse_config
from registry.manifests import OCI_INDEX, OCI_MANIFEST, ParsedManifest, parse_manifest
from registry.models import Artifact

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
_serial = itertools.count(1)


def fake_digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _config_descriptor(config: bytes) -> dict:
    return {
        "mediaType": OCI_CONFIG,
        "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        "size": len(config),
    }


def parsed_image(serial: str) -> ParsedManifest:
    """A parsed image manifest with no layers, distinct per `serial`, for tests that call
    registry.push directly."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "serial": serial}).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _config_descriptor(config),
        "layers": [],
    }
    return parse_manifest(json.dumps(doc).encode(), OCI_MANIFEST)


def _record(
    project: Project,
    repository: str,
    doc: dict,
    media_type: str,
    tag: str | None,
    config: bytes | None = None,
) -> Artifact:
    parsed = parse_manifest(json.dumps(doc).encode(), media_type)
    image_config = (
        parse_config(config, parsed.config.media_type) if config and parsed.config else None
    )
    return services.record_manifest_push(
        project=project,
        repository_name=f"{project.name}/{repository}",
        parsed=parsed,
        tag=tag,
        username="pusher",
        image_config=image_config,
    )


def image(
    project: Project,
    repository: str,
    tag: str | None = None,
    *,
    architecture: str = "amd64",
    layer_sizes: tuple[int, ...] = (1000, 2000),
    history: list[dict] | None = None,
) -> Artifact:
    serial = next(_serial)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "author": "tests",
            "config": {"Env": ["A=1"], "Labels": {"serial": str(serial)}},
            "history": history if history is not None else [{"created_by": f"step {serial}"}],
        }
    ).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _config_descriptor(config),
        "layers": [
            {"mediaType": OCI_LAYER, "digest": fake_digest(f"layer-{serial}-{i}"), "size": size}
            for i, size in enumerate(layer_sizes)
        ],
    }
    return _record(project, repository, doc, OCI_MANIFEST, tag, config)


def index(project: Project, repository: str, tag: str | None, children: list[Artifact]) -> Artifact:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": child.digest,
                "size": 500 + i,
                "platform": {
                    "architecture": child.extra_attrs.get("architecture", "amd64"),
                    "os": "linux",
                    "os.version": "10.0",
                },
                "annotations": {"note": f"child {i}"},
            }
            for i, child in enumerate(children)
        ],
    }
    return _record(project, repository, doc, OCI_INDEX, tag)


def referrer(
    project: Project,
    repository: str,
    subject: Artifact,
    artifact_type: str = "application/vnd.example.sbom.v1",
    tag: str | None = None,
) -> Artifact:
    serial = next(_serial)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY_CONFIG, "digest": fake_digest("{}"), "size": 2},
        "layers": [
            {"mediaType": "application/json", "digest": fake_digest(f"ref-{serial}"), "size": 10}
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject.digest, "size": 500},
        "annotations": {"org.example.serial": str(serial)},
    }
    return _record(project, repository, doc, OCI_MANIFEST, tag)
