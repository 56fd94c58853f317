"""Talking to the real distribution of tests/distribution_plugin.py: blob uploads
straight to it, manifest pushes through the gate.

    pytest_plugins = ["tests.distribution_plugin"]

    def test_x(distribution):
        digest = push_image("alice", "demo/app", "v1")
"""

from __future__ import annotations

import hashlib
import json
import os

import httpx
from django.test import Client, TestCase

from accounts.tokens import Scope, mint
from registry import pending_configs, upstream
from registry.manifests import MANIFEST_ACCEPT
from tests.imagegen import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer

PUSH = frozenset({"pull", "push"})


def upload_blob(repository: str, data: bytes) -> str:
    """Put one blob straight into distribution (as nginx would let a client do)."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = upstream.request("POST", repository, f"/v2/{repository}/blobs/uploads/", PUSH)
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"])
    path = location.copy_merge_params({"digest": digest})
    done = upstream.request(
        "PUT",
        repository,
        path.raw_path.decode(),
        PUSH,
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    return digest


def bearer(username: str, repository: str, actions: set[str]) -> str:
    token, _, _ = mint(username, [Scope("repository", repository, frozenset(actions))])
    return f"Bearer {token}"


def put_manifest(username: str, repository: str, reference: str, doc: dict, media_type: str):
    """PUT a manifest through the gate, as a client with a push token. Work the push
    leaves for after commit (reading the image config) runs here, as the worker would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().put(
            f"/v2/{repository}/manifests/{reference}",
            data=json.dumps(doc).encode(),
            content_type=media_type,
            HTTP_AUTHORIZATION=bearer(username, repository, {"pull", "push"}),
        )
    pending_configs.read_batch()
    return response


def push_image(
    username: str,
    repository: str,
    reference: str,
    *,
    architecture: str = "amd64",
    layers: int = 2,
    history: list[dict] | None = None,
) -> str:
    """Upload a random image's blobs and PUT its manifest through the gate; its digest."""
    layer_descs = []
    for _ in range(layers):
        data = random_layer(256)
        layer_descs.append(
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": upload_blob(repository, data),
                "size": len(data),
            }
        )
    config = {
        "architecture": architecture,
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "author": "unit tests",
        "config": {"Env": ["PATH=/usr/bin"], "Labels": {"nonce": os.urandom(4).hex()}},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": history if history is not None else [{"created_by": "unit test step"}],
    }
    config_bytes = json.dumps(config).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob(repository, config_bytes),
            "size": len(config_bytes),
        },
        "layers": layer_descs,
    }
    response = put_manifest(username, repository, reference, doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"]


def push_index(username: str, repository: str, reference: str, children: dict[str, int]) -> str:
    """An index over already pushed manifests: {digest: size} -> index digest."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "platform": {"architecture": f"arch{i}", "os": "linux"},
            }
            for i, (digest, size) in enumerate(children.items())
        ],
    }
    response = put_manifest(username, repository, reference, doc, OCI_INDEX)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"]


def stored_manifest(repository: str, digest: str) -> httpx.Response:
    """HEAD of a manifest in distribution itself (not through the gate)."""
    return upstream.request(
        "HEAD",
        repository,
        f"/v2/{repository}/manifests/{digest}",
        frozenset({"pull"}),
        headers={"Accept": MANIFEST_ACCEPT},
    )
