"""The GC guard at the gate, against a real distribution: HEAD and manifest PUT pull blobs
back from `delete`, and refuse blobs that are `deleting`."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from registry.models import Artifact, Blob
from tests.distribution import bearer, put_manifest, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer

pytest_plugins = ["tests.distribution_plugin"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(distribution, make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    return "demo/app"


def _head(repo: str, digest: str):
    return Client().head(
        f"/v2/{repo}/blobs/{digest}", HTTP_AUTHORIZATION=bearer("owner", repo, {"pull"})
    )


def _manifest(repo: str) -> tuple[dict, str]:
    layer = random_layer(64)
    layer_digest = upload_blob(repo, layer)
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob(repo, config),
            "size": len(config),
        },
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}],
    }
    return doc, layer_digest


def test_head_answers_from_storage_and_touches_the_blob(repo):
    _, layer = _manifest(repo)
    response = _head(repo, layer)
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == layer
    assert int(response["Content-Length"]) > 0
    assert Blob.objects.get(digest=layer).status == Blob.Status.NONE
    missing = _head(repo, "sha256:" + "0" * 64)
    assert missing.status_code == 404
    assert _head("demo/other", layer).status_code == 404  # not linked into that repository


def test_head_pulls_a_marked_blob_back(repo):
    _, layer = _manifest(repo)
    Blob.objects.create(digest=layer, status=Blob.Status.DELETE, version=7)
    assert _head(repo, layer).status_code == 200
    blob = Blob.objects.get(digest=layer)
    assert (blob.status, blob.version) == (Blob.Status.NONE, 8)


def test_head_of_a_blob_being_deleted_is_404(repo):
    _, layer = _manifest(repo)
    Blob.objects.create(digest=layer, status=Blob.Status.DELETING)
    assert _head(repo, layer).status_code == 404


def test_manifest_naming_a_blob_being_deleted_is_refused(repo):
    doc, layer = _manifest(repo)
    Blob.objects.create(digest=layer, status=Blob.Status.DELETING)
    response = put_manifest("owner", repo, "v1", doc, OCI_MANIFEST)
    assert response.status_code == 404
    assert json.loads(response.content)["errors"][0]["code"] == "BLOB_UNKNOWN"
    assert not Artifact.objects.exists()


def test_manifest_push_references_its_blobs_and_unmarks_them(repo):
    doc, layer = _manifest(repo)
    Blob.objects.create(digest=layer, status=Blob.Status.DELETE)
    response = put_manifest("owner", repo, "v1", doc, OCI_MANIFEST)
    assert response.status_code == 201
    artifact = Artifact.objects.get()
    assert Blob.objects.get(digest=layer).status == Blob.Status.NONE
    assert set(artifact.blobs.values_list("digest", flat=True)) == {
        layer,
        doc["config"]["digest"],
        artifact.digest,
    }


def test_a_refused_manifest_leaves_no_artifact(repo):
    doc, _ = _manifest(repo)
    doc["layers"][0]["digest"] = "sha256:" + "1" * 64  # never uploaded: distribution refuses
    response = put_manifest("owner", repo, "v1", doc, OCI_MANIFEST)
    assert response.status_code == 400
    assert not Artifact.objects.exists()
