"""Images pushed with skopeo through nginx -> gate -> distribution come back bit-identical,
and the database records what was pushed."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.imagegen import layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def _project(stack: Instance, public: bool = False) -> str:
    name = f"p{uuid.uuid4().hex[:10]}"
    stack.create_project(name, public=public)
    return name


def test_push_pull_round_trip_is_bit_identical(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[3 * 1024 * 1024, 200_000, 10])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    skopeo(
        "copy", f"docker://{stack.host}/{project}/app:v1", f"oci:{tmp_path / 'out'}:v1", creds=ADMIN
    )

    pushed = layout_blobs(image.path)
    pulled = layout_blobs(tmp_path / "out")
    assert pulled.keys() == pushed.keys()
    for digest, data in pushed.items():
        assert pulled[digest] == data, digest


def test_push_is_recorded_in_the_database(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[1000, 2000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/team/app:1.0", creds=ADMIN)
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/team/app:stable", creds=ADMIN)

    listing = skopeo("list-tags", f"docker://{stack.host}/{project}/team/app", creds=ADMIN)
    assert '"1.0"' in listing.stdout and '"stable"' in listing.stdout
    with stack.client() as api:
        projects = api.get("/api/v2.0/projects", params={"name": project}).json()
    assert projects[0]["repo_count"] == 1

    token = stack.token([f"repository:{project}/team/app:pull"], auth=ADMIN)["token"]
    with stack.client(None) as registry:
        head = registry.head(
            f"/v2/{project}/team/app/manifests/stable",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.oci.image.manifest.v1+json",
            },
        )
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == image.manifest_digest


def test_tags_list_and_catalog_paginate(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[100])
    for tag in ["b", "a", "c"]:
        skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:{tag}", creds=ADMIN)
    token = stack.token([f"repository:{project}/app:pull", "registry:catalog:*"], auth=ADMIN)[
        "token"
    ]
    bearer = {"Authorization": f"Bearer {token}"}
    with stack.client(None) as registry:
        first = registry.get(f"/v2/{project}/app/tags/list", params={"n": 2}, headers=bearer)
        assert first.json() == {"name": f"{project}/app", "tags": ["a", "b"]}
        assert 'rel="next"' in first.headers["Link"]
        rest = registry.get(
            f"/v2/{project}/app/tags/list", params={"n": 2, "last": "b"}, headers=bearer
        )
        assert rest.json()["tags"] == ["c"]
        catalog = registry.get("/v2/_catalog", headers=bearer)
        assert f"{project}/app" in catalog.json()["repositories"]


def test_delete_by_digest_removes_the_image_for_pullers(stack: Instance, tmp_path: Path) -> None:
    project = _project(stack)
    image = make_image(tmp_path / "src", layer_sizes=[100])
    ref = f"docker://{stack.host}/{project}/app:gone"
    skopeo("copy", image.ref, ref, creds=ADMIN)
    skopeo("delete", f"docker://{stack.host}/{project}/app@{image.manifest_digest}", creds=ADMIN)
    result = skopeo("inspect", ref, creds=ADMIN, check=False)
    assert result.returncode != 0
    assert "manifest unknown" in result.stderr.lower()
