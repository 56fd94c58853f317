"""Descriptor sizes are checked against the stored blobs (issue #20): a pusher can neither
shrink its own usage nor inflate a shared layer's recorded size against other projects; the
blob table and quota usage hold true sizes only (real distribution)."""

from __future__ import annotations

import json

import pytest

from projects.models import Project
from quotas.models import Quota
from registry.models import Artifact, Blob
from tests.distribution import put_manifest, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

MIB = 1024 * 1024
TIB = 1024**4


@pytest.fixture
def pushers(distribution, make_user, make_project):
    for name in ("mallory", "alice"):
        make_project(name, owner=make_user(name))


@pytest.fixture(params=["local-storage", "remote-storage"])
def storage(request, settings, pushers) -> str:
    """The gate reads the storage directory itself, or asks distribution (S3 and the like)."""
    if request.param == "remote-storage":
        settings.HARBOR = {**settings.HARBOR, "STORAGE_ROOT": ""}
    return request.param


def image_doc(repository: str, layer: bytes, *, layer_size: int | None = None) -> dict:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob(repository, config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": upload_blob(repository, layer),
                "size": len(layer) if layer_size is None else layer_size,
            }
        ],
    }


def oci_code(response) -> str:
    return response.json()["errors"][0]["code"]


def used(project_name: str) -> int:
    quota = Quota.objects.filter(project__name=project_name).first()
    return quota.used if quota else 0


def test_a_layer_declared_smaller_than_stored_is_refused(storage):
    layer = random_layer(MIB)
    response = put_manifest(
        "mallory", "mallory/app", "v1", image_doc("mallory/app", layer, layer_size=1), OCI_MANIFEST
    )
    assert response.status_code == 400, response.content
    assert oci_code(response) == "MANIFEST_INVALID"
    assert "layers[0]" in response.json()["errors"][0]["message"]
    assert not Artifact.objects.exists()
    assert used("mallory") == 0
    assert not Blob.objects.filter(size=1).exists()


def test_an_inflated_shared_layer_cannot_push_other_projects_over_their_quota(storage):
    layer = random_layer(64 * 1024)
    inflated = image_doc("mallory/base", layer, layer_size=10 * TIB)
    response = put_manifest("mallory", "mallory/base", "v1", inflated, OCI_MANIFEST)
    assert response.status_code == 400 and oci_code(response) == "MANIFEST_INVALID"
    Quota.objects.update_or_create(
        project=Project.objects.get(name="alice"), defaults={"hard": 10 * MIB}
    )
    honest = put_manifest("alice", "alice/app", "v1", image_doc("alice/app", layer), OCI_MANIFEST)
    assert honest.status_code == 201, honest.content
    digest = inflated["layers"][0]["digest"]
    assert Blob.objects.get(digest=digest).size == len(layer)
    assert 0 < used("alice") < MIB


def test_a_config_of_the_wrong_size_is_refused(storage):
    doc = image_doc("mallory/app", random_layer(1024))
    doc["config"]["size"] += 1
    response = put_manifest("mallory", "mallory/app", "v1", doc, OCI_MANIFEST)
    assert response.status_code == 400 and oci_code(response) == "MANIFEST_INVALID"
    assert "config" in response.json()["errors"][0]["message"]


def test_a_layer_the_repository_does_not_have_is_manifest_blob_unknown(storage):
    doc = image_doc("mallory/app", random_layer(1024))
    doc["layers"][0]["digest"] = "sha256:" + "ab" * 32
    response = put_manifest("mallory", "mallory/app", "v1", doc, OCI_MANIFEST)
    assert response.status_code == 400 and oci_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert not Blob.objects.filter(digest="sha256:" + "ab" * 32).exists()


def test_index_children_and_subjects_are_checked_against_the_stored_manifests(storage):
    child = image_doc("mallory/app", random_layer(1024))
    pushed = put_manifest("mallory", "mallory/app", "v1", child, OCI_MANIFEST)
    assert pushed.status_code == 201, pushed.content
    digest, size = pushed["Docker-Content-Digest"], len(json.dumps(child).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest, "size": size + 1000}],
    }
    response = put_manifest("mallory", "mallory/app", "multi", index, OCI_INDEX)
    assert response.status_code == 400 and oci_code(response) == "MANIFEST_INVALID"
    assert "manifests[0]" in response.json()["errors"][0]["message"]
    index["manifests"][0]["size"] = size
    assert put_manifest("mallory", "mallory/app", "multi", index, OCI_INDEX).status_code == 201

    referrer = image_doc("mallory/app", random_layer(512))
    referrer["subject"] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": 1}
    response = put_manifest("mallory", "mallory/app", "sig", referrer, OCI_MANIFEST)
    assert response.status_code == 400 and oci_code(response) == "MANIFEST_INVALID"
    assert "subject" in response.json()["errors"][0]["message"]


def test_an_honest_push_records_true_sizes_and_usage(storage):
    layer = random_layer(200 * 1024)
    doc = image_doc("alice/app", layer)
    response = put_manifest("alice", "alice/app", "v1", doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    body = json.dumps(doc).encode()
    expected = len(layer) + doc["config"]["size"] + len(body)
    assert used("alice") == expected
    assert Artifact.objects.get(digest=response["Docker-Content-Digest"]).size == expected
