"""The repository/artifact API against real pushes: attributes from the image config,
deletion seen by pullers, copies across projects pulled back bit-identical, multi-arch
indexes, the referrers API, and pull times written by the Celery aggregation task."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import httpx

from tests.imagegen import OCI_INDEX, OCI_MANIFEST, layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
ZERO_TIME = "0001-01-01T00:00:00.000Z"


def _project(stack: Instance) -> str:
    name = f"p{uuid.uuid4().hex[:10]}"
    stack.create_project(name)
    return name


def _artifact(stack: Instance, project: str, reference: str, repository: str = "app") -> dict:
    with stack.client() as api:
        response = api.get(
            f"/api/v2.0/projects/{project}/repositories/{repository}/artifacts/{reference}",
            params={"with_label": "true", "with_accessory": "true"},
        )
    assert response.status_code == 200, response.text
    return response.json()


def _described(stack: Instance, project: str, reference: str) -> dict:
    """The artifact once the worker has read its image config (batched after the push)."""
    artifact = _artifact(stack, project, reference)
    deadline = time.monotonic() + 30
    while not artifact["extra_attrs"] and time.monotonic() < deadline:
        time.sleep(0.2)
        artifact = _artifact(stack, project, reference)
    return artifact


def _multi_arch_layout(path: Path, tag: str) -> tuple[str, dict[str, str]]:
    """An OCI layout whose `tag` is an image index over an amd64 and an arm64 image;
    returns the index digest and {architecture: manifest digest}."""
    children = {}
    entries = []
    for arch in ("amd64", "arm64"):
        image = make_image(path, layer_sizes=[4096], tag=arch, architecture=arch)
        size = (path / "blobs" / "sha256" / image.manifest_digest[7:]).stat().st_size
        children[arch] = image.manifest_digest
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": image.manifest_digest,
                "size": size,
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    (path / "blobs" / "sha256" / digest[7:]).write_bytes(body)
    top = {
        "mediaType": OCI_INDEX,
        "digest": digest,
        "size": len(body),
        "annotations": {"org.opencontainers.image.ref.name": tag},
    }
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return digest, children


def test_pushed_image_is_described_by_the_api(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[300_000, 1000], architecture="arm64")
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)

    artifact = _described(stack, project, "v1")
    assert artifact["digest"] == image.manifest_digest
    assert artifact["type"] == "IMAGE"
    assert artifact["extra_attrs"]["architecture"] == "arm64"
    assert artifact["extra_attrs"]["os"] == "linux"
    assert artifact["extra_attrs"]["author"] == "harbor-py tests"
    assert artifact["extra_attrs"]["created"] == "2026-01-01T00:00:00Z"
    assert artifact["extra_attrs"]["config"]["Env"] == ["PATH=/usr/bin"]
    blobs = layout_blobs(image.path)
    expected = sum(len(blobs[d]) for d in [image.manifest_digest, image.config_digest])
    expected += sum(len(blobs[d]) for d in image.layer_digests)
    assert artifact["size"] == expected
    assert [t["name"] for t in artifact["tags"]] == ["v1"]
    assert artifact["references"] == []
    assert artifact["accessories"] == []
    with stack.client() as api:
        history = api.get(artifact["addition_links"]["build_history"]["href"])
        repository = api.get(f"/api/v2.0/projects/{project}/repositories/app").json()
    assert history.json() == [{"created": "2026-01-01T00:00:00Z", "created_by": "imagegen"}]
    assert repository["artifact_count"] == 1


def test_deleted_artifact_is_gone_for_pullers(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[1000])
    ref = f"docker://{stack.host}/{project}/app:gone"
    skopeo("copy", image.ref, ref, creds=ADMIN)
    with stack.client() as api:
        response = api.delete(f"/api/v2.0/projects/{project}/repositories/app/artifacts/gone")
    assert response.status_code == 200, response.text
    for reference in (ref, f"docker://{stack.host}/{project}/app@{image.manifest_digest}"):
        result = skopeo("inspect", reference, creds=ADMIN, check=False)
        assert result.returncode != 0
        assert "manifest unknown" in result.stderr.lower()


def test_copied_artifact_pulls_back_bit_identical(stack: Instance, tmp_path: Path) -> None:
    source, target = _project(stack), _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[2 * 1024 * 1024, 5000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{source}/app:v1", creds=ADMIN)
    with stack.client() as api:
        response = api.post(
            f"/api/v2.0/projects/{target}/repositories/team%252Fcopy/artifacts",
            params={"from": f"{source}/app:v1"},
        )
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith("/team%2Fcopy/artifacts/v1")

    out = tmp_path / "out"
    skopeo("copy", f"docker://{stack.host}/{target}/team/copy:v1", f"oci:{out}:v1", creds=ADMIN)
    pushed, pulled = layout_blobs(image.path), layout_blobs(out)
    assert pulled.keys() == pushed.keys()
    for digest, data in pushed.items():
        assert pulled[digest] == data, digest
    copied = _artifact(stack, target, "v1", repository="team%252Fcopy")
    assert copied["extra_attrs"] == _artifact(stack, source, "v1")["extra_attrs"]


def test_index_children_are_references(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    index_digest, children = _multi_arch_layout(tmp_path / "multi", "latest")
    skopeo(
        "copy",
        "--all",
        f"oci:{tmp_path / 'multi'}:latest",
        f"docker://{stack.host}/{project}/app:latest",
        creds=ADMIN,
    )
    artifact = _artifact(stack, project, "latest")
    assert artifact["digest"] == index_digest
    assert artifact["manifest_media_type"] == OCI_INDEX
    platforms = {r["platform"]["architecture"]: r["child_digest"] for r in artifact["references"]}
    assert platforms == children
    assert all(r["child_id"] for r in artifact["references"])
    with stack.client() as api:
        listing = api.get(f"/api/v2.0/projects/{project}/repositories/app/artifacts").json()
        everything = api.get(
            f"/api/v2.0/projects/{project}/repositories/app/artifacts", params={"q": "base=*"}
        ).json()
    assert [a["digest"] for a in listing] == [index_digest]  # untagged children under it
    assert {a["digest"] for a in everything} == {index_digest, *children.values()}
    child = _described(stack, project, children["arm64"])
    assert child["extra_attrs"]["architecture"] == "arm64"


def _upload(registry: httpx.Client, name: str, data: bytes, bearer: dict) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    started = registry.post(f"/v2/{name}/blobs/uploads/", headers=bearer)
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest})
    done = registry.put(
        location, content=data, headers={**bearer, "Content-Type": "application/octet-stream"}
    )
    assert done.status_code == 201, done.text
    return digest


def test_referrers_api_lists_an_artifact_pushed_with_a_subject(
    stack: Instance, tmp_path: Path
) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[1000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    name = f"{project}/app"
    token = stack.token([f"repository:{name}:pull,push"], auth=ADMIN)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    sbom = b'{"spdxVersion": "SPDX-2.3"}'
    with stack.client(None) as registry:
        empty = _upload(registry, name, b"{}", bearer)
        layer = _upload(registry, name, sbom, bearer)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/spdx+json",
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": empty,
                    "size": 2,
                },
                "layers": [
                    {"mediaType": "application/spdx+json", "digest": layer, "size": len(sbom)}
                ],
                "subject": {
                    "mediaType": OCI_MANIFEST,
                    "digest": image.manifest_digest,
                    "size": len(layout_blobs(image.path)[image.manifest_digest]),
                },
                "annotations": {"org.example.kind": "sbom"},
            }
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        put = registry.put(
            f"/v2/{name}/manifests/{digest}",
            content=manifest,
            headers={**bearer, "Content-Type": OCI_MANIFEST},
        )
        assert put.status_code == 201, put.text
        assert put.headers["OCI-Subject"] == image.manifest_digest
        referrers = registry.get(f"/v2/{name}/referrers/{image.manifest_digest}", headers=bearer)
        filtered = registry.get(
            f"/v2/{name}/referrers/{image.manifest_digest}",
            params={"artifactType": "application/vnd.other"},
            headers=bearer,
        )
    assert referrers.status_code == 200
    assert referrers.headers["Content-Type"] == OCI_INDEX
    assert referrers.json()["manifests"] == [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": len(manifest),
            "artifactType": "application/spdx+json",
            "annotations": {"org.example.kind": "sbom"},
        }
    ]
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert filtered.json()["manifests"] == []
    accessories = _artifact(stack, project, "v1")["accessories"]
    assert [(a["digest"], a["type"]) for a in accessories] == [(digest, "subject.accessory")]


def test_pull_time_is_written_by_the_aggregation_task(stack: Instance, tmp_path: Path) -> None:
    """The pull only lands in Redis; the Celery worker's aggregate_pulls writes it. Beat
    runs the task every 10 s; the test queues it itself so as not to wait for the beat."""
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[1000])
    ref = f"docker://{stack.host}/{project}/app:v1"
    skopeo("copy", image.ref, ref, creds=ADMIN)
    assert _artifact(stack, project, "v1")["pull_time"] == ZERO_TIME
    skopeo("inspect", ref, creds=ADMIN)  # GETs the manifest through the gate
    stack.manage(
        "shell", "-c", "from registry.tasks import aggregate_pulls; aggregate_pulls.delay()"
    )

    deadline = time.monotonic() + 30
    while (artifact := _artifact(stack, project, "v1"))["pull_time"] == ZERO_TIME:
        assert time.monotonic() < deadline, "pull_time was never aggregated"
        time.sleep(0.3)
    assert artifact["tags"][0]["pull_time"] != ZERO_TIME
    with stack.client() as api:
        repository = api.get(f"/api/v2.0/projects/{project}/repositories/app").json()
    assert repository["pull_count"] >= 1
