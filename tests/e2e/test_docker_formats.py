"""Docker's manifest formats through the whole stack: schema 2 manifests and manifest
lists are pushed, pulled back byte for byte, listed by the API and replicated like their
OCI counterparts; a schema 1 push is refused with a clear error (Harbor dropped it)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import httpx

from tests.e2e.replication_support import API, create_endpoint, create_policy, replicate
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


def _project(stack: Instance) -> str:
    name = f"dk{uuid.uuid4().hex[:10]}"
    stack.create_project(name)
    return name


def _raw_manifest(stack: Instance, ref: str) -> bytes:
    return skopeo("inspect", "--raw", f"docker://{stack.host}/{ref}", creds=ADMIN).stdout.encode()


def _push_docker_image(stack: Instance, tmp_path: Path, ref: str, seed: str) -> dict:
    image = make_image(tmp_path / seed, layer_sizes=[50_000, 123])
    skopeo("copy", "--format", "v2s2", image.ref, f"docker://{stack.host}/{ref}", creds=ADMIN)
    raw = _raw_manifest(stack, ref)
    return {
        "mediaType": DOCKER_MANIFEST,
        "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "raw": raw,
    }


def _put_list(stack: Instance, name: str, tag: str, children: list[dict]) -> bytes:
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                {
                    "mediaType": child["mediaType"],
                    "digest": child["digest"],
                    "size": child["size"],
                    "platform": {"architecture": arch, "os": "linux"},
                }
                for child, arch in zip(children, ("amd64", "arm64"), strict=True)
            ],
        },
        indent=3,
    ).encode()
    token = stack.token([f"repository:{name}:pull,push"], auth=ADMIN)["token"]
    with stack.client(None) as registry:
        put = registry.put(
            f"/v2/{name}/manifests/{tag}",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": DOCKER_LIST},
        )
    assert put.status_code == 201, put.text
    return body


def _artifact(stack: Instance, project: str, repository: str, reference: str) -> dict:
    with stack.client() as api:
        response = api.get(
            f"{API}/projects/{project}/repositories/{repository}/artifacts/{reference}"
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_schema2_manifests_and_lists_push_pull_list_and_replicate(
    stack: Instance, tmp_path: Path
) -> None:
    project = _project(stack)
    name = f"{project}/app"
    amd = _push_docker_image(stack, tmp_path, f"{name}:amd64", "amd")
    arm = _push_docker_image(stack, tmp_path, f"{name}:arm64", "arm")
    assert json.loads(amd["raw"])["mediaType"] == DOCKER_MANIFEST
    body = _put_list(stack, name, "multi", [amd, arm])
    list_digest = "sha256:" + hashlib.sha256(body).hexdigest()

    # pulled back as pushed: the list, and a platform's image through it
    assert _raw_manifest(stack, f"{name}:multi") == body
    skopeo(
        "copy",
        "--all",
        f"docker://{stack.host}/{name}:multi",
        f"dir:{tmp_path / 'pulled'}",
        creds=ADMIN,
    )
    assert (tmp_path / "pulled" / "manifest.json").read_bytes() == body
    single = _artifact(stack, project, "app", "amd64")
    assert (single["manifest_media_type"], single["type"]) == (DOCKER_MANIFEST, "IMAGE")
    assert single["media_type"] == "application/vnd.docker.container.image.v1+json"
    assert single["extra_attrs"]["architecture"] == "amd64"

    listed = _artifact(stack, project, "app", "multi")
    assert (listed["manifest_media_type"], listed["type"]) == (DOCKER_LIST, "IMAGE")
    assert listed["digest"] == list_digest
    assert {(r["child_digest"], r["platform"]["architecture"]) for r in listed["references"]} == {
        (amd["digest"], "amd64"),
        (arm["digest"], "arm64"),
    }

    # replicated (to another project of this instance, over its own registry endpoint)
    mirror = _project(stack)
    endpoint = create_endpoint(stack, stack.url, f"self-{mirror}")
    policy = create_policy(
        stack,
        {
            "name": f"docker-{mirror}",
            "dest_registry": {"id": endpoint},
            "dest_namespace": mirror,
            "dest_namespace_replace_count": 1,
            "filters": [
                {"type": "name", "value": f"{project}/**"},
                {"type": "tag", "value": "multi"},
            ],
            "trigger": {"type": "manual"},
        },
    )
    replicate(stack, policy)
    assert _raw_manifest(stack, f"{mirror}/app:multi") == body
    copy = _artifact(stack, mirror, "app", "multi")
    assert (copy["digest"], copy["manifest_media_type"]) == (list_digest, DOCKER_LIST)
    assert _raw_manifest(stack, f"{mirror}/app@{arm['digest']}") == arm["raw"]


def test_schema1_push_is_refused_with_a_clear_error(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    name = f"{project}/old"
    layer = b"schema1 layer"
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    body = json.dumps(
        {
            "schemaVersion": 1,
            "name": name,
            "tag": "v1",
            "architecture": "amd64",
            "fsLayers": [{"blobSum": layer_digest}],
            "history": [{"v1Compatibility": json.dumps({"id": "a" * 64})}],
        }
    ).encode()
    token = stack.token([f"repository:{name}:pull,push"], auth=ADMIN)["token"]
    with httpx.Client(base_url=stack.url) as registry:
        refused = registry.put(
            f"/v2/{name}/manifests/v1",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": SCHEMA1},
        )
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert "schema 1 is not supported" in error["message"]

    # a client asked for schema 1 gets the same refusal
    image = make_image(tmp_path / "src", layer_sizes=[100])
    pushed = skopeo(
        "copy",
        "--format",
        "v2s1",
        image.ref,
        f"docker://{stack.host}/{name}:v1",
        creds=ADMIN,
        check=False,
    )
    assert pushed.returncode != 0
    assert "schema 1 is not supported" in pushed.stderr
    with stack.client() as api:
        assert api.get(f"{API}/projects/{project}/repositories/old").status_code == 404
