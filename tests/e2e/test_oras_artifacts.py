"""OCI artifacts pushed and pulled with the oras Python SDK through the whole stack:
a multi-file artifact (uploaded in chunks with Content-Range, the path registry/uploads.py
checks), an artifact with `artifactType` and the empty config, a referrer found through
the referrers API with its filter, and a Helm chart packaged here the way `helm package`
does and pushed with Helm's OCI media types (no `helm` binary is packaged for Debian,
PyPI or npm; Harbor types the chart by those media types, whoever pushes it)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import oras.client
import oras.oci
import pytest

from tests.stack import ADMIN_PASSWORD, Instance

ADMIN = ("admin", ADMIN_PASSWORD)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
POLICY_TYPE = "application/vnd.example.policy.bundle.v1"
SBOM_TYPE = "application/spdx+json"


@pytest.fixture
def project(stack: Instance) -> str:
    name = f"or{uuid.uuid4().hex[:10]}"
    stack.create_project(name)
    return name


@pytest.fixture
def client(stack: Instance, tmp_path: Path) -> Iterator[oras.client.OrasClient]:
    """Logged in with a docker config file of the test's own: oras writes
    ~/.docker/config.json otherwise, which skopeo and podman read too, so that every later
    'anonymous' pull on this machine would carry the admin's password."""
    shared = Path.home() / ".docker" / "config.json"
    before = shared.read_bytes() if shared.exists() else None
    registry = oras.client.OrasClient(hostname=stack.host, insecure=True)
    registry.login(
        username=ADMIN[0],
        password=ADMIN[1],
        tls_verify=False,
        hostname=stack.host,
        config_path=str(tmp_path / "docker-config.json"),
    )
    yield registry
    assert (shared.read_bytes() if shared.exists() else None) == before


def _api(stack: Instance, path: str) -> httpx.Response:
    with stack.client() as api:
        return api.get(f"/api/v2.0{path}")


def _artifact(stack: Instance, project: str, repository: str, reference: str) -> dict:
    response = _api(stack, f"/projects/{project}/repositories/{repository}/artifacts/{reference}")
    assert response.status_code == 200, response.text
    return response.json()


def _files(directory: Path, contents: dict[str, bytes]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in contents.items():
        (directory / name).write_bytes(data)
        paths.append(directory / name)
    return paths


def test_multi_file_artifact_round_trips_in_chunks(
    stack: Instance, client: oras.client.OrasClient, project: str, tmp_path: Path
) -> None:
    contents = {
        "model.bin": os.urandom(700_000),
        "README.txt": b"three files\n",
        "params.json": b'{"layers": 3}',
    }
    paths = _files(tmp_path / "src", contents)
    target = f"{stack.host}/{project}/bundle:v1"
    client.push(
        target=target,
        files=[f"{p}:application/vnd.example.file" for p in paths],
        disable_path_validation=True,
        do_chunked=True,
        chunk_size=256 * 1024,  # model.bin goes up in three PATCHes with Content-Range
    )
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert {Path(p).name: Path(p).read_bytes() for p in pulled} == contents

    artifact = _artifact(stack, project, "bundle", "v1")
    assert artifact["type"] == "UNKNOWN"
    assert artifact["media_type"] == "application/vnd.unknown.config.v1+json"
    assert (
        artifact["icon"]
        == "sha256:da834479c923584f4cbcdecc0dac61f32bef1d51e8aae598cf16bd154efab49f"
    )


def _push_typed(
    client: oras.client.OrasClient,
    target: str,
    artifact_type: str,
    layers: list[Path],
    layer_type: str,
    subject: oras.oci.Subject | None = None,
) -> dict:
    """A manifest with artifactType and the empty config, uploaded through the SDK."""
    container = client.get_container(target)
    config_path = layers[0].parent / "empty.json"
    config_path.write_bytes(b"{}")
    config, _ = oras.oci.ManifestConfig(str(config_path), EMPTY_CONFIG)
    client.upload_blob(str(config_path), container, config)
    manifest = oras.oci.NewManifest()
    manifest.update(artifactType=artifact_type, config=config)
    for path in layers:
        layer = oras.oci.NewLayer(str(path), media_type=layer_type)
        layer["annotations"] = {"org.opencontainers.image.title": path.name}
        client.upload_blob(str(path), container, layer)
        manifest["layers"].append(layer)
    if subject is not None:
        manifest["subject"] = vars(subject)
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201, response.text
    return manifest


def test_artifact_type_and_referrers(
    stack: Instance, client: oras.client.OrasClient, project: str, tmp_path: Path
) -> None:
    bundle = _files(tmp_path / "policy", {"policy.rego": b"package main\nallow = true\n"})
    target = f"{stack.host}/{project}/policies:v1"
    _push_typed(client, target, POLICY_TYPE, bundle, "application/vnd.example.rego")
    subject_manifest = client.get_manifest(target)
    subject = oras.oci.Subject.from_manifest(subject_manifest)
    policy = _artifact(stack, project, "policies", "v1")
    assert policy["artifact_type"] == POLICY_TYPE
    assert policy["media_type"] == EMPTY_CONFIG
    assert policy["type"] == "UNKNOWN"
    assert subject.digest == policy["digest"]

    sbom = _files(tmp_path / "sbom", {"sbom.spdx.json": b'{"spdxVersion": "SPDX-2.3"}'})
    referrer = _push_typed(
        client, f"{stack.host}/{project}/policies:sbom", SBOM_TYPE, sbom, SBOM_TYPE, subject
    )
    referrer_digest = (
        "sha256:"
        + hashlib.sha256(
            json.dumps(referrer).encode()  # the SDK PUTs json.dumps(manifest)
        ).hexdigest()
    )
    pulled = client.pull(
        target=f"{stack.host}/{project}/policies:sbom", outdir=str(tmp_path / "out")
    )
    assert Path(pulled[0]).read_bytes() == sbom[0].read_bytes()

    token = stack.token([f"repository:{project}/policies:pull"], auth=ADMIN)["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with stack.client(None) as registry:
        listed = registry.get(f"/v2/{project}/policies/referrers/{subject.digest}", headers=bearer)
        matching = registry.get(
            f"/v2/{project}/policies/referrers/{subject.digest}",
            params={"artifactType": SBOM_TYPE},
            headers=bearer,
        )
        other = registry.get(
            f"/v2/{project}/policies/referrers/{subject.digest}",
            params={"artifactType": POLICY_TYPE},
            headers=bearer,
        )
    assert [(m["digest"], m["artifactType"]) for m in listed.json()["manifests"]] == [
        (referrer_digest, SBOM_TYPE)
    ]
    assert "OCI-Filters-Applied" not in listed.headers
    assert matching.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in matching.json()["manifests"]] == [referrer_digest]
    assert other.headers["OCI-Filters-Applied"] == "artifactType"
    assert other.json()["manifests"] == []
    accessories = _artifact(stack, project, "policies", "v1")
    listing = _api(
        stack,
        f"/projects/{project}/repositories/policies/artifacts/v1/accessories",
    ).json()
    assert [a["digest"] for a in listing] == [referrer_digest], accessories


CHART_YAML = """apiVersion: v2
name: webapp
description: A web application
type: application
version: 1.2.3
appVersion: "4.5"
dependencies:
  - name: redis
    version: 17.3.0
    repository: oci://registry.example/charts
    condition: redis.enabled
"""
VALUES_YAML = "replicaCount: 2\nimage:\n  repository: example/webapp\n"
README = "# webapp\n\nA chart for tests.\n"


def package_chart(directory: Path) -> tuple[Path, Path]:
    """What `helm package` and `helm push` make: webapp-1.2.3.tgz holding webapp/..., and the
    config blob, Chart.yaml's metadata as JSON."""
    archive = directory / "webapp-1.2.3.tgz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in {
            "Chart.yaml": CHART_YAML,
            "values.yaml": VALUES_YAML,
            "README.md": README,
            "templates/deployment.yaml": "kind: Deployment\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(f"webapp/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.write_bytes(buffer.getvalue())
    config = directory / "config.json"
    config.write_text(
        json.dumps(
            {
                "name": "webapp",
                "version": "1.2.3",
                "description": "A web application",
                "apiVersion": "v2",
                "appVersion": "4.5",
                "type": "application",
                "dependencies": [
                    {
                        "name": "redis",
                        "version": "17.3.0",
                        "repository": "oci://registry.example/charts",
                        "condition": "redis.enabled",
                    }
                ],
            }
        )
    )
    return archive, config


def test_helm_chart_pushed_as_oci_is_typed_and_detailed(
    stack: Instance, client: oras.client.OrasClient, project: str, tmp_path: Path
) -> None:
    (tmp_path / "chart").mkdir()
    archive, config = package_chart(tmp_path / "chart")
    target = f"{stack.host}/{project}/charts/webapp:1.2.3"
    client.push(
        target=target,
        files=[f"{archive}:{HELM_CHART}"],
        manifest_config=f"{config}:{HELM_CONFIG}",
        disable_path_validation=True,
    )
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert Path(pulled[0]).read_bytes() == archive.read_bytes()

    repository = "charts%252Fwebapp"
    chart = _artifact(stack, project, repository, "1.2.3")
    assert chart["type"] == "CHART"
    assert chart["media_type"] == HELM_CONFIG
    assert chart["extra_attrs"]["name"] == "webapp"
    assert chart["extra_attrs"]["appVersion"] == "4.5"
    links = chart["addition_links"]
    assert set(links) == {"values.yaml", "readme.md", "dependencies"}

    icon = _api(stack, f"/icons/{chart['icon']}")
    assert icon.status_code == 200
    assert (
        chart["icon"] == "sha256:61cf3a178ff0f75bf08a25d96b75cf7355dc197749a9f128ed3ef34b0df05518"
    )
    assert base64.b64decode(icon.json()["content"]).startswith(b"\x89PNG")

    with stack.client() as api:
        values = api.get(links["values.yaml"]["href"])
        readme = api.get(links["readme.md"]["href"])
        dependencies = api.get(links["dependencies"]["href"])
    assert values.status_code == 200 and values.text == VALUES_YAML
    assert values.headers["Content-Type"].startswith("text/plain")
    assert readme.text == README and readme.headers["Content-Type"].startswith("text/markdown")
    assert dependencies.json() == [
        {
            "name": "redis",
            "version": "17.3.0",
            "repository": "oci://registry.example/charts",
            "condition": "redis.enabled",
        }
    ]
    charts = _api(
        stack, f"/projects/{project}/repositories/{repository}/artifacts?q=type%3DCHART"
    ).json()
    assert [a["digest"] for a in charts] == [chart["digest"]]
