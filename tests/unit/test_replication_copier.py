"""The replication client and copier against in-memory registries (token auth, HEAD skip,
mount, streamed and chunked uploads, digest check, retries, speed limit, stop)."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

import pytest

from replication.copier import Copier, StopRequested, TokenBucket
from replication.transfer import RemoteRegistry, TransferError
from tests.fake_registry import FakeRegistry
from tests.imagegen import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST


def remote(fake: FakeRegistry, kind: str = "docker-registry") -> RemoteRegistry:
    endpoint = SimpleNamespace(
        url="http://fake",
        insecure=False,
        type=kind,
        access_key=fake.credentials[0],
        access_secret=fake.credentials[1],
    )
    return RemoteRegistry(endpoint, transport=fake.transport())


def image(fake: FakeRegistry, repository: str, tags: list[str], layers: list[bytes]) -> str:
    config = fake.add_blob(repository, b'{"architecture":"amd64","os":"linux"}')
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 37},
        "layers": [
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": fake.add_blob(repository, data),
                "size": len(data),
            }
            for data in layers
        ],
    }
    return fake.add_manifest(repository, tags, doc, OCI_MANIFEST)


@pytest.fixture
def pair():
    src, dst = FakeRegistry(), FakeRegistry(("robot", "x"))
    return src, dst, Copier(remote(src), remote(dst), sleep=lambda s: None)


def test_copy_streams_every_blob_and_puts_the_tags(pair):
    src, dst, copier = pair
    layers = [os.urandom(3 << 20), os.urandom(1000)]
    digest = image(src, "p/app", ["v1", "latest"], layers)
    copier.manifest("p/app", "mirror/app", digest, ["v1", "latest"])
    assert dst.manifests["mirror/app"]["v1"] == src.manifests["p/app"]["v1"]
    assert dst.manifests["mirror/app"]["latest"][0] == src.manifests["p/app"][digest][0]
    assert dst.blobs["mirror/app"] == src.blobs["p/app"]
    assert copier.stats["uploaded"] == 3 and copier.stats["bytes"] == sum(map(len, layers)) + 37
    assert src.calls["token"] >= 1 and dst.calls["token"] >= 1  # bearer tokens, cached

    # Again: every blob is found by HEAD, nothing is uploaded.
    before = dst.calls["PUT blobs/uploads"]
    copier.manifest("p/app", "mirror/app", digest, ["v1"])
    assert dst.calls["PUT blobs/uploads"] == before
    assert copier.stats["skipped"] == 3
    # Into a second repository of the same destination: mounted, not uploaded.
    copier.manifest("p/app", "mirror/other", digest, ["v1"])
    assert copier.stats["mounted"] == 3 and dst.calls["PUT blobs/uploads"] == before


def test_chunked_upload(pair):
    src, dst, copier = pair
    copier.chunked = True
    layer = os.urandom(40 << 20)
    digest = image(src, "p/big", ["v1"], [layer])
    copier.manifest("p/big", "p/big", digest, ["v1"])
    assert dst.blobs["p/big"] == src.blobs["p/big"]
    assert dst.calls["PATCH blobs/uploads"] == 4  # 16 + 16 + 8 MiB, and the small config


def test_index_children_first(pair):
    src, dst, copier = pair
    children = [image(src, "p/multi", [], [os.urandom(100)]) for _ in range(2)]
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d, "size": len(src.manifests["p/multi"][d][0])}
            for d in children
        ],
    }
    index = src.add_manifest("p/multi", ["v1"], doc, OCI_INDEX)
    copier.manifest("p/multi", "p/multi", index, ["v1"])
    assert set(dst.manifests["p/multi"]) == {*children, index, "v1"}


def test_digest_mismatch_aborts_and_retries_give_up(pair):
    src, dst, copier = pair
    digest = image(src, "p/bad", ["v1"], [os.urandom(5000)])
    layer = next(d for d in src.blobs["p/bad"] if len(src.blobs["p/bad"][d]) == 5000)
    src.corrupt.add(layer)
    with pytest.raises(TransferError, match="does not match"):
        copier.manifest("p/bad", "p/bad", digest, ["v1"])
    assert layer not in dst.blobs.get("p/bad", {})
    assert "v1" not in dst.manifests.get("p/bad", {})


def test_transient_failures_are_retried(pair):
    src, dst, copier = pair
    digest = image(src, "p/flaky", ["v1"], [os.urandom(2000)])
    dst.fail_next_puts = 2
    copier.manifest("p/flaky", "p/flaky", digest, ["v1"])
    assert dst.blobs["p/flaky"] == src.blobs["p/flaky"]


def test_stop_interrupts_a_copy(pair):
    src, _, copier = pair
    digest = image(src, "p/app", ["v1"], [os.urandom(1000)])
    copier.stop.set()
    with pytest.raises(StopRequested):
        copier.manifest("p/app", "p/app", digest, ["v1"])


def test_wrong_credentials_fail_the_ping():
    fake = FakeRegistry()
    good = remote(fake)
    good.ping()
    wrong = remote(FakeRegistry(("admin", "other")))
    wrong.client._transport = fake.transport()
    with pytest.raises(TransferError, match="token service"):
        wrong.ping()


def test_listing_tags_and_artifacts_of_a_plain_registry():
    fake = FakeRegistry()
    first = image(fake, "p/app", ["v1", "latest"], [b"a"])
    image(fake, "p/app", ["v2"], [b"b"])
    client = remote(fake)

    def tags_list(repository: str) -> list[str]:
        return sorted(r for r in fake.manifests[repository] if not r.startswith("sha256:"))

    client.tags = tags_list  # the fake serves no tags/list endpoint
    artifacts = {a.digest: a.tags for a in client.artifacts("p/app")}
    assert artifacts[first] == ("latest", "v1") and len(artifacts) == 2


def test_token_bucket_limits_the_rate():
    bucket = TokenBucket(1 << 20)  # 1 MiB/s
    started = time.monotonic()
    for _ in range(6):
        bucket.take(256 << 10)  # 1.5 MiB: the first MiB is the burst
    assert time.monotonic() - started >= 0.4
