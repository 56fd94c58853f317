"""Harbor's artifact types, icons and chart additions (registry.artifact_types, icons,
charts): the typing rules of Harbor's processors, read from manifests as pushed."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from registry import artifact_types, charts, icons
from registry.manifests import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parse_manifest
from tests.unit.test_manifests import desc, encode, oci_manifest

HELM = "application/vnd.cncf.helm.config.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"


def _manifest(config: str, media_type: str = OCI_MANIFEST, **extra: object) -> tuple:
    doc = oci_manifest(config=desc(config, "config", 10), mediaType=media_type, **extra)
    return parse_manifest(encode(doc), media_type)


@pytest.mark.parametrize(
    ("config", "extra", "kind", "media_type"),
    [
        ("application/vnd.oci.image.config.v1+json", {}, "IMAGE", None),
        ("application/vnd.docker.container.image.v1+json", {}, "IMAGE", None),
        (HELM, {}, "CHART", None),
        ("application/vnd.wasm.config.v1+json", {}, "WASM", None),
        (
            "application/vnd.oci.image.config.v1+json",
            {"annotations": {"module.wasm.image/variant": "compat"}},
            "WASM",
            "application/vnd.wasm.config.v1+json",
        ),
        ("application/vnd.example.sbom.config.v1+json", {}, "SBOM", None),
        (EMPTY, {"artifactType": "application/vnd.example.policy.v1+tar"}, "UNKNOWN", None),
        ("application/octet-stream", {}, "UNKNOWN", None),
    ],
)
def test_manifest_types(config, extra, kind, media_type) -> None:
    parsed = _manifest(config, **extra)
    assert parsed.artifact_kind == kind
    assert parsed.harbor_media_type == (media_type or config)


def test_docker_manifest_is_an_image() -> None:
    parsed = _manifest("application/vnd.docker.container.image.v1+json", DOCKER_MANIFEST)
    assert parsed.artifact_kind == "IMAGE"


@pytest.mark.parametrize(
    ("media_type", "annotations", "kind"),
    [
        (OCI_INDEX, {}, "IMAGE"),
        (DOCKER_LIST, {}, "IMAGE"),
        (
            OCI_INDEX,
            {"org.opencontainers.artifactType": "application/vnd.cnab.manifest.v1"},
            "CNAB",
        ),
    ],
)
def test_index_types(media_type, annotations, kind) -> None:
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": [], "annotations": annotations}
    assert parse_manifest(encode(doc), media_type).artifact_kind == kind


@pytest.mark.parametrize(
    ("kind", "digest"),
    [
        ("IMAGE", artifact_types.ICON_IMAGE),
        ("CHART", artifact_types.ICON_CHART),
        ("CNAB", artifact_types.ICON_CNAB),
        ("WASM", artifact_types.ICON_WASM),
        ("UNKNOWN", artifact_types.ICON_DEFAULT),
        ("SBOM", artifact_types.ICON_DEFAULT),
    ],
)
def test_every_type_has_a_served_icon(kind, digest) -> None:
    assert artifact_types.icon_of(kind) == digest
    body = icons.icon(digest)
    assert body is not None and body["content-type"] == "image/png"
    assert base64.b64decode(body["content"]).startswith(b"\x89PNG\r\n\x1a\n")


def chart_archive(files: dict[str, str], root: str = "demo") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_chart_additions_from_a_v2_chart() -> None:
    chart = charts.read_archive(
        chart_archive(
            {
                "Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\ndependencies:\n"
                "- name: redis\n  version: 17.0.0\n  repository: oci://example/charts\n"
                "  condition: redis.enabled\n",
                "values.yaml": "replicas: 2\n",
                "README.md": "# demo\n",
                "templates/README.md": "not the chart's readme",
            }
        )
    )
    assert chart.addition("values.yaml") == (b"replicas: 2\n", "text/plain; charset=utf-8")
    assert chart.addition("readme.md") == (b"# demo\n", "text/markdown; charset=utf-8")
    content, content_type = chart.addition("dependencies")
    assert content_type == "application/json; charset=utf-8"
    assert json.loads(content) == [
        {
            "name": "redis",
            "version": "17.0.0",
            "repository": "oci://example/charts",
            "condition": "redis.enabled",
        }
    ]


def test_v1_chart_dependencies_come_from_requirements_yaml() -> None:
    chart = charts.read_archive(
        chart_archive(
            {
                "Chart.yaml": "apiVersion: v1\nname: old\nversion: 1.0.0\n",
                "requirements.yaml": "dependencies:\n- name: pg\n  repository: https://x\n",
            }
        )
    )
    assert json.loads(chart.addition("dependencies")[0]) == [
        {"name": "pg", "repository": "https://x"}
    ]
    assert chart.addition("readme.md")[0] == b""


@pytest.mark.parametrize("data", [b"not a tarball", chart_archive({"values.yaml": "a: 1"})])
def test_what_is_not_a_chart_is_refused(data) -> None:
    with pytest.raises(charts.ChartUnreadable):
        charts.read_archive(data)
