"""registry.manifests.parse_manifest: what a pushed manifest is recorded as, and what is refused."""

from __future__ import annotations

import hashlib
import json

import pytest

from registry.manifests import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ManifestInvalid,
    parse_manifest,
)

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def desc(media_type: str, seed: str, size: int = 100, **extra) -> dict:
    return {"mediaType": media_type, "digest": digest(seed), "size": size, **extra}


def oci_manifest(**overrides) -> dict:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, "config", 321),
        "layers": [desc(OCI_LAYER, "layer1", 1000), desc(OCI_LAYER, "layer2", 2000)],
    }
    doc.update(overrides)
    return {k: v for k, v in doc.items() if v is not None}


def encode(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_oci_manifest():
    body = encode(oci_manifest(annotations={"org.opencontainers.image.created": "now"}))
    parsed = parse_manifest(body, OCI_MANIFEST)
    assert parsed.digest == "sha256:" + hashlib.sha256(body).hexdigest()
    assert parsed.size == len(body)
    assert parsed.media_type == OCI_MANIFEST
    assert not parsed.is_index
    assert parsed.config == Descriptor(OCI_CONFIG, digest("config"), 321)
    assert [(d.digest, d.size, d.media_type) for d in parsed.layers] == [
        (digest("layer1"), 1000, OCI_LAYER),
        (digest("layer2"), 2000, OCI_LAYER),
    ]
    assert parsed.children == []
    assert parsed.subject is None
    assert parsed.artifact_type == ""
    assert parsed.artifact_kind == "IMAGE"
    assert parsed.annotations == {"org.opencontainers.image.created": "now"}


def test_content_type_parameters_are_ignored():
    parsed = parse_manifest(encode(oci_manifest()), f"{OCI_MANIFEST}; charset=utf-8")
    assert parsed.media_type == OCI_MANIFEST


def test_media_type_from_body_when_no_content_type():
    assert parse_manifest(encode(oci_manifest()), "").media_type == OCI_MANIFEST


def test_media_type_guessed_when_neither_is_given():
    assert parse_manifest(encode(oci_manifest(mediaType=None)), "").media_type == OCI_MANIFEST
    index = {"schemaVersion": 2, "manifests": [desc(OCI_MANIFEST, "child")]}
    assert parse_manifest(encode(index), "").media_type == OCI_INDEX


def test_docker_v2_manifest():
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": desc(DOCKER_CONFIG, "cfg", 1469),
        "layers": [desc(DOCKER_LAYER, "l1", 2811478)],
    }
    parsed = parse_manifest(encode(doc), DOCKER_MANIFEST)
    assert parsed.media_type == DOCKER_MANIFEST
    assert parsed.config.media_type == DOCKER_CONFIG
    assert parsed.layers[0].size == 2811478
    assert parsed.artifact_kind == "IMAGE"
    assert parsed.artifact_type == ""


def test_oci_index_with_children_and_platform():
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            desc(OCI_MANIFEST, "amd64", 500, platform={"architecture": "amd64", "os": "linux"}),
            desc(
                OCI_MANIFEST,
                "arm64",
                501,
                platform={"architecture": "arm64", "os": "linux", "variant": "v8"},
            ),
        ],
        "annotations": {"a": "b"},
    }
    body = encode(doc)
    parsed = parse_manifest(body, OCI_INDEX)
    assert parsed.is_index
    assert parsed.artifact_kind == "IMAGE"
    assert parsed.config is None
    assert parsed.layers == []
    assert [(c.digest, c.size) for c in parsed.children] == [
        (digest("amd64"), 500),
        (digest("arm64"), 501),
    ]
    assert parsed.children[0].platform == {"architecture": "amd64", "os": "linux"}
    assert parsed.children[1].platform["variant"] == "v8"
    assert parsed.annotations == {"a": "b"}
    assert [d.digest for d in parsed.blob_descriptors()] == [parsed.digest]


def test_docker_manifest_list():
    doc = {
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [
            desc(DOCKER_MANIFEST, "x", platform={"architecture": "amd64", "os": "linux"})
        ],
    }
    parsed = parse_manifest(encode(doc), DOCKER_LIST)
    assert parsed.is_index
    assert len(parsed.children) == 1


def test_empty_index_is_valid():
    parsed = parse_manifest(encode({"schemaVersion": 2, "manifests": []}), OCI_INDEX)
    assert parsed.children == []


def test_subject_and_artifact_type_are_captured():
    doc = oci_manifest(
        artifactType="application/vnd.example.sbom.v1+json",
        config=desc("application/vnd.oci.empty.v1+json", "empty", 2),
        subject=desc(OCI_MANIFEST, "the-image", 700),
    )
    parsed = parse_manifest(encode(doc), OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example.sbom.v1+json"
    assert parsed.subject == Descriptor(OCI_MANIFEST, digest("the-image"), 700)
    assert parsed.artifact_kind == "UNKNOWN"


def test_artifact_type_defaults_to_a_non_image_config_media_type_and_helm_is_a_chart():
    doc = oci_manifest(config=desc("application/vnd.cncf.helm.config.v1+json", "chart", 10))
    parsed = parse_manifest(encode(doc), OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.cncf.helm.config.v1+json"
    assert parsed.artifact_kind == "CHART"


def test_empty_config_without_artifact_type_has_none():
    doc = oci_manifest(config=desc("application/vnd.oci.empty.v1+json", "empty", 2))
    assert parse_manifest(encode(doc), OCI_MANIFEST).artifact_type == ""


def test_index_with_subject():
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": "application/vnd.example+type",
        "subject": desc(OCI_MANIFEST, "img", 10),
        "manifests": [],
    }
    parsed = parse_manifest(encode(doc), OCI_INDEX)
    assert parsed.subject.digest == digest("img")
    assert parsed.artifact_type == "application/vnd.example+type"


def test_blob_descriptors_include_the_manifest_and_are_unique():
    shared = desc(OCI_LAYER, "same", 10)
    doc = oci_manifest(layers=[shared, desc(OCI_LAYER, "other", 20), shared])
    body = encode(doc)
    parsed = parse_manifest(body, OCI_MANIFEST)
    blobs = parsed.blob_descriptors()
    digests = [d.digest for d in blobs]
    assert len(digests) == len(set(digests)) == 4
    assert digests[0] == parsed.digest
    own = blobs[0]
    assert (own.media_type, own.size) == (OCI_MANIFEST, len(body))
    assert set(digests) == {parsed.digest, digest("config"), digest("same"), digest("other")}


def test_blob_descriptors_when_config_is_also_a_layer():
    doc = oci_manifest(config=desc(OCI_CONFIG, "dup", 5), layers=[desc(OCI_LAYER, "dup", 5)])
    digests = [d.digest for d in parse_manifest(encode(doc), OCI_MANIFEST).blob_descriptors()]
    assert sorted(digests) == sorted({digests[0], digest("dup")})


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"not json", b"{", b"\xff\xfe", b"{'a': 1}"])
def test_refuses_non_json(body):
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, OCI_MANIFEST)


@pytest.mark.parametrize("doc", [[], [oci_manifest()], "manifest", 2, None])
def test_refuses_non_objects(doc):
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(doc), OCI_MANIFEST)


@pytest.mark.parametrize("version", [1, 3, "2", None])
def test_refuses_other_schema_versions(version):
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(schemaVersion=version)), OCI_MANIFEST)


def test_refuses_schema1():
    doc = {
        "schemaVersion": 1,
        "name": "lib/app",
        "tag": "v1",
        "fsLayers": [{"blobSum": digest("x")}],
    }
    for content_type in (
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
        "",
    ):
        with pytest.raises(ManifestInvalid, match="schema 1 is not supported"):
            parse_manifest(encode(doc), content_type)


def test_refuses_media_type_not_matching_content_type():
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest()), DOCKER_MANIFEST)
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(mediaType=OCI_INDEX)), OCI_MANIFEST)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "text/plain", "application/vnd.oci.image.config.v1+json"],
)
def test_refuses_unsupported_media_types(content_type):
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(mediaType=None)), content_type)


def test_refuses_unsupported_declared_media_type():
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(mediaType="application/x-custom")), "")


@pytest.mark.parametrize(
    "bad_digest",
    [
        "sha256:" + "a" * 63,
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        "md5:" + "a" * 32,
        "a" * 64,
        "",
        None,
        12,
    ],
)
def test_refuses_bad_digest_in_a_layer(bad_digest):
    layer = {"mediaType": OCI_LAYER, "digest": bad_digest, "size": 10}
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(layers=[layer])), OCI_MANIFEST)


def test_accepts_sha512_digests():
    layer = {"mediaType": OCI_LAYER, "digest": "sha512:" + "a" * 128, "size": 10}
    parsed = parse_manifest(encode(oci_manifest(layers=[layer])), OCI_MANIFEST)
    assert parsed.layers[0].digest == "sha512:" + "a" * 128


@pytest.mark.parametrize("size", [-1, "10", 1.5, None, True])
def test_refuses_bad_size(size):
    layer = {"mediaType": OCI_LAYER, "digest": digest("x"), "size": size}
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(layers=[layer])), OCI_MANIFEST)


def test_zero_size_is_allowed():
    layer = desc(OCI_LAYER, "empty", 0)
    assert parse_manifest(encode(oci_manifest(layers=[layer])), OCI_MANIFEST).layers[0].size == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"config": None},
        {"config": "sha256:abc"},
        {"config": desc(OCI_CONFIG, "c", -5)},
        {"layers": None},
        {"layers": {"0": desc(OCI_LAYER, "l")}},
        {"layers": ["not-a-descriptor"]},
        {"subject": {"digest": "nope", "size": 1}},
        {"subject": "sha256:abc"},
    ],
)
def test_refuses_structural_problems(overrides):
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(oci_manifest(**overrides)), OCI_MANIFEST)


@pytest.mark.parametrize(
    "manifests",
    [
        None,
        "x",
        [{"mediaType": OCI_MANIFEST, "digest": "bad", "size": 1}],
        [desc(OCI_MANIFEST, "x", -1)],
    ],
)
def test_refuses_bad_index(manifests):
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX}
    if manifests is not None:
        doc["manifests"] = manifests
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(doc), OCI_INDEX)


def test_index_media_type_with_image_body_is_refused():
    doc = oci_manifest(mediaType=None)
    with pytest.raises(ManifestInvalid):
        parse_manifest(encode(doc), OCI_INDEX)


def test_manifest_invalid_is_a_value_error():
    assert issubclass(ManifestInvalid, ValueError)


@pytest.mark.parametrize("size", [2**63, 2**64 + 1, 10**40])
def test_refuses_sizes_beyond_64_bits(size):
    doc = oci_manifest(layers=[desc(OCI_LAYER, "huge", size)])
    with pytest.raises(ManifestInvalid, match="invalid size"):
        parse_manifest(encode(doc), OCI_MANIFEST)


def test_refuses_deeply_nested_json():
    body = b'{"schemaVersion": 2, "annotations": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ManifestInvalid, match="nested"):
        parse_manifest(body, OCI_MANIFEST)
