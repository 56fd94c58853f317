"""The /v2 gate: the OCI referrers API (from the database), spec-correct errors on every
route it serves, and pushes that record config attributes (with a real distribution)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from registry import config_queue, pending_configs, upstream
from registry.manifests import digest_of
from registry.models import Artifact, ArtifactAddition, Tag
from tests.distribution import (
    bearer,
    push_image,
    put_manifest,
    stored_manifest,
    upload_blob,
)
from tests.integration.registry_data import EMPTY_CONFIG, OCI_CONFIG, image, index, referrer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture
def demo(make_user, make_project):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    v1 = image(project, "app", "v1")
    return {"project": project, "v1": v1}


def get(path: str, token: str | None = None, method: str = "get", **extra):
    headers = {"HTTP_AUTHORIZATION": token} if token else {}
    return getattr(Client(), method)(path, **headers, **extra)


def oci_error(response, status: int, code: str) -> dict | None:
    assert response.status_code == status, (response.status_code, response.content)
    if response.request["REQUEST_METHOD"] == "HEAD":  # no body to read
        return None
    body = response.json()
    assert [e["code"] for e in body["errors"]] == [code], body
    return body["errors"][0]


# --- referrers ----------------------------------------------------------------------------


def test_referrers_lists_manifests_whose_subject_is_the_digest(demo):
    v1 = demo["v1"]
    sbom = referrer(demo["project"], "app", v1, "application/vnd.example.sbom.v1")
    sig = referrer(demo["project"], "app", v1, "application/vnd.example.signature.v1")
    referrer(demo["project"], "app", image(demo["project"], "app"))  # of another subject
    response = get(f"/v2/demo/app/referrers/{v1.digest}", bearer("owner", "demo/app", {"pull"}))
    assert response.status_code == 200
    assert response["Content-Type"] == OCI_INDEX
    assert "OCI-Filters-Applied" not in response
    body = response.json()
    assert body["schemaVersion"] == 2 and body["mediaType"] == OCI_INDEX
    blob_sizes = {a.digest: a.blobs.get(digest=a.digest).size for a in (sbom, sig)}
    assert body["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": a.digest,
            "size": blob_sizes[a.digest],
            "artifactType": a.artifact_type,
            "annotations": a.annotations,
        }
        for a in (sbom, sig)
    ]


def test_referrers_filter_by_artifact_type(demo):
    v1 = demo["v1"]
    referrer(demo["project"], "app", v1, "application/vnd.example.sbom.v1")
    sig = referrer(demo["project"], "app", v1, "application/vnd.example.signature.v1")
    response = get(
        f"/v2/demo/app/referrers/{v1.digest}?artifactType=application/vnd.example.signature.v1",
        bearer("owner", "demo/app", {"pull"}),
    )
    assert response.status_code == 200
    assert response["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in response.json()["manifests"]] == [sig.digest]


def test_referrer_artifact_type_defaults_to_the_config_media_type(demo):
    """An image manifest with a subject and no artifactType: the config media type; an
    index without artifactType: none."""
    project, v1 = demo["project"], demo["v1"]
    plain = image(project, "app")
    Artifact.objects.filter(pk=plain.pk).update(subject_digest=v1.digest)
    idx = index(project, "app", None, [image(project, "app")])
    Artifact.objects.filter(pk=idx.pk).update(subject_digest=v1.digest)
    manifests = get(f"/v2/demo/app/referrers/{v1.digest}", bearer("owner", "demo/app", {"pull"}))
    by_digest = {m["digest"]: m for m in manifests.json()["manifests"]}
    assert by_digest[plain.digest]["artifactType"] == OCI_CONFIG
    assert "artifactType" not in by_digest[idx.digest]
    assert by_digest[idx.digest]["mediaType"] == OCI_INDEX
    filtered = get(
        f"/v2/demo/app/referrers/{v1.digest}",
        bearer("owner", "demo/app", {"pull"}),
        data={"artifactType": OCI_CONFIG},
    )
    assert [m["digest"] for m in filtered.json()["manifests"]] == [plain.digest]


def test_referrers_of_an_unreferenced_digest_is_an_empty_index(demo):
    response = get(
        f"/v2/demo/app/referrers/sha256:{'a' * 64}", bearer("owner", "demo/app", {"pull"})
    )
    assert response.status_code == 200
    assert response.json()["manifests"] == []


def test_referrers_errors(demo, make_user):
    token = bearer("owner", "demo/app", {"pull"})
    oci_error(get("/v2/demo/app/referrers/sha256:nothex", token), 400, "DIGEST_INVALID")
    oci_error(get("/v2/demo/app/referrers/latest", token), 400, "DIGEST_INVALID")
    digest = demo["v1"].digest
    oci_error(get(f"/v2/demo/App/referrers/{digest}", token), 400, "NAME_INVALID")
    ghost = bearer("owner", "demo/ghost", {"pull"})
    oci_error(get(f"/v2/demo/ghost/referrers/{digest}", ghost), 404, "NAME_UNKNOWN")
    unauthenticated = get(f"/v2/demo/app/referrers/{digest}")
    oci_error(unauthenticated, 401, "UNAUTHORIZED")
    assert 'scope="repository:demo/app:pull"' in unauthenticated["WWW-Authenticate"]
    make_user("bob")
    outsider = bearer("bob", "demo/app", set())
    oci_error(get(f"/v2/demo/app/referrers/{digest}", outsider), 404, "NAME_UNKNOWN")
    oci_error(get(f"/v2/demo/app/referrers/{digest}", token, "post"), 405, "UNSUPPORTED")


# --- manifest route errors ----------------------------------------------------------------


def test_invalid_references(demo):
    token = bearer("owner", "demo/app", {"pull", "push", "delete"})
    oci_error(get("/v2/demo/app/manifests/sha256:abc", token), 400, "DIGEST_INVALID")
    oci_error(get("/v2/demo/app/manifests/md5:abc", token, "delete"), 400, "DIGEST_INVALID")
    oci_error(get("/v2/demo/app/manifests/-bad-", token), 404, "MANIFEST_UNKNOWN")
    oci_error(get("/v2/demo/app/manifests/.x", token, "delete"), 404, "MANIFEST_UNKNOWN")
    put = Client().put(
        "/v2/demo/app/manifests/-bad-",
        data=b"{}",
        content_type=OCI_MANIFEST,
        HTTP_AUTHORIZATION=token,
    )
    oci_error(put, 400, "MANIFEST_INVALID")
    oci_error(get("/v2/demo/app/manifests/v1", token, "post"), 405, "UNSUPPORTED")
    oci_error(get("/v2/demo/app/blobs/sha256:xyz", token, "head"), 400, "DIGEST_INVALID")


def test_unknown_repository_and_manifest(demo):
    ghost = bearer("owner", "demo/ghost", {"pull", "delete"})
    oci_error(get("/v2/demo/ghost/manifests/v1", ghost), 404, "NAME_UNKNOWN")
    oci_error(get("/v2/demo/ghost/tags/list", ghost), 404, "NAME_UNKNOWN")
    oci_error(get("/v2/demo/ghost/manifests/v1", ghost, "delete"), 404, "NAME_UNKNOWN")
    token = bearer("owner", "demo/app", {"pull", "delete"})
    oci_error(get("/v2/demo/app/manifests/nope", token), 404, "MANIFEST_UNKNOWN")
    oci_error(get(f"/v2/demo/app/manifests/sha256:{'b' * 64}", token), 404, "MANIFEST_UNKNOWN")
    oci_error(get("/v2/demo/app/manifests/nope", token, "delete"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_removes_only_the_tag(demo):
    token = bearer("owner", "demo/app", {"pull", "delete"})
    response = get("/v2/demo/app/manifests/v1", token, "delete")
    assert response.status_code == 202
    assert not Tag.objects.filter(name="v1").exists()
    assert Artifact.objects.filter(pk=demo["v1"].pk).exists()
    oci_error(get("/v2/demo/app/manifests/v1", token), 404, "MANIFEST_UNKNOWN")


def test_storage_unavailable_is_503_not_500(demo, settings, tmp_path):
    settings.HARBOR = {
        **settings.HARBOR,
        "REGISTRY_URL": f"unix://{tmp_path}/none.sock",
        "STORAGE_ROOT": "",  # storage not readable by the gate: blob HEAD asks distribution
    }
    upstream.reset_client()
    try:
        token = bearer("owner", "demo/app", {"pull"})
        oci_error(get("/v2/demo/app/manifests/v1", token), 503, "UNAVAILABLE")
        oci_error(get(f"/v2/demo/app/blobs/sha256:{'c' * 64}", token, "head"), 503, "UNAVAILABLE")
    finally:
        upstream.reset_client()


# --- pushes through the gate (real distribution) ------------------------------------------


@pytest.mark.parametrize("local_storage", [True, False], ids=["local-storage", "remote-storage"])
def test_push_records_config_attributes_and_history(
    distribution, make_user, make_project, settings, monkeypatch, local_storage
):
    """Local storage: the push reads the config itself and queues nothing. Storage the gate
    cannot read: the config is queued and read from distribution after commit."""
    owner = make_user("owner")
    make_project("demo", owner=owner)
    queued: list[int] = []
    monkeypatch.setattr(config_queue, "add", queued.append)
    if not local_storage:
        settings.HARBOR = {**settings.HARBOR, "STORAGE_ROOT": ""}
    digest = push_image(
        "owner",
        "demo/app",
        "v1",
        architecture="arm64",
        history=[{"created_by": "FROM scratch"}, {"created_by": "COPY x"}],
    )
    artifact = Artifact.objects.get(digest=digest)
    if local_storage:
        assert queued == []
    else:
        assert queued == [artifact.pk]
        assert artifact.extra_attrs == {}
        monkeypatch.undo()  # the real queue, as the worker reads it
        config_queue.add(artifact.pk)
        assert pending_configs.read_batch() == 1
        artifact.refresh_from_db()
    assert artifact.extra_attrs["architecture"] == "arm64"
    assert artifact.extra_attrs["os"] == "linux"
    assert artifact.extra_attrs["author"] == "unit tests"
    assert artifact.extra_attrs["created"] == "2026-01-01T00:00:00Z"
    assert artifact.extra_attrs["config"]["Env"] == ["PATH=/usr/bin"]
    history = ArtifactAddition.objects.get(artifact=artifact, type="build_history")
    assert json.loads(history.content) == [{"created_by": "FROM scratch"}, {"created_by": "COPY x"}]
    layers = sum(b.size for b in artifact.blobs.all())
    assert artifact.size == layers  # manifest + config + unique layers


def test_push_with_a_subject_answers_oci_subject_and_is_a_referrer(
    distribution, make_user, make_project
):
    make_project("demo", owner=make_user("owner"))
    subject = push_image("owner", "demo/app", "v1")
    subject_size = int(stored_manifest("demo/app", subject).headers["Content-Length"])
    empty = upload_blob("demo/app", b"{}")
    payload = b'{"format": "spdx"}'
    layer = upload_blob("demo/app", payload)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": {"mediaType": EMPTY_CONFIG, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": layer, "size": len(payload)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    body = json.dumps(doc).encode()
    response = put_manifest("owner", "demo/app", digest_of(body), doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    assert response["OCI-Subject"] == subject
    referrers = get(f"/v2/demo/app/referrers/{subject}", bearer("owner", "demo/app", {"pull"}))
    assert referrers.json()["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": response["Docker-Content-Digest"],
            "size": len(body),
            "artifactType": "application/spdx+json",
            "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        }
    ]
    assert Artifact.objects.get(digest=response["Docker-Content-Digest"]).extra_attrs == {}


def test_pull_through_the_gate_after_api_delete_is_manifest_unknown(
    distribution, make_user, make_project, client_for
):
    owner = make_user("owner")
    make_project("demo", owner=owner)
    digest = push_image("owner", "demo/app", "v1")
    token = bearer("owner", "demo/app", {"pull"})
    pulled = get("/v2/demo/app/manifests/v1", token, HTTP_ACCEPT=OCI_MANIFEST)
    assert pulled.status_code == 200
    assert pulled["Docker-Content-Digest"] == digest
    response = client_for(owner).delete("/api/v2.0/projects/demo/repositories/app/artifacts/v1")
    assert response.status_code == 200, response.content
    oci_error(get("/v2/demo/app/manifests/v1", token), 404, "MANIFEST_UNKNOWN")
    oci_error(get(f"/v2/demo/app/manifests/{digest}", token), 404, "MANIFEST_UNKNOWN")
    assert stored_manifest("demo/app", digest).status_code == 404
