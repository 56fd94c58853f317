"""GC on S3: a real distribution with its s3 driver against a real SeaweedFS on loopback.

Images are pushed through the gate into the bucket; the collector deletes exactly the keys
of what no artifact references any more.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import Client

from harbor_gc import fsck
from harbor_gc.storage import S3Storage, Upload
from harbor_py.core.actor import Actor
from jobs.models import Execution, Status, Task
from jobs.runner import run
from registry import deletion, upstream
from registry.manifests import MANIFEST_ACCEPT
from registry.models import Artifact, Blob
from tests.distribution import bearer, push_image
from tests.distribution_process import gated_config, serving
from tests.seaweedfs import SeaweedFS
from tests.stack import DOCKER_REGISTRY

pytestmark = pytest.mark.django_db(transaction=True)
S3_STORAGE = """\
  s3:
    region: us-east-1
    regionendpoint: "{endpoint}"
    bucket: {bucket}
    accesskey: {access}
    secretkey: {secret}
    secure: false
    v4auth: true
    rootdirectory: /registry"""


@dataclass
class S3Registry:
    url: str
    store: SeaweedFS
    bucket: str


@pytest.fixture(scope="module")
def s3_registry(
    seaweedfs: SeaweedFS, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Registry]:
    if not os.path.exists(DOCKER_REGISTRY):
        pytest.skip("docker-registry is not installed")
    bucket = seaweedfs.new_bucket("gc")
    base = tmp_path_factory.mktemp("s3-distribution")
    socket = base / "registry.sock"
    storage = S3_STORAGE.format(
        endpoint=seaweedfs.endpoint,
        bucket=bucket,
        access=seaweedfs.access_key,
        secret=seaweedfs.secret_key,
    )
    config = gated_config(storage, socket)
    # distribution 2.8's s3 driver panics when AWS_CA_BUNDLE is set (see platform.py).
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with serving(base, config, ready=socket.exists, env=env):
        yield S3Registry(url=f"unix://{socket}", store=seaweedfs, bucket=bucket)


def _storage(registry: S3Registry, root: str = "/registry") -> S3Storage:
    return registry.store.storage(registry.bucket, root)


@pytest.fixture
def s3(settings, s3_registry: S3Registry, monkeypatch) -> Iterator[S3Storage]:
    storage = _storage(s3_registry)
    storage._delete_keys([item["Key"] for item in storage._list("")])
    settings.HARBOR = {
        **settings.HARBOR,
        "REGISTRY_URL": s3_registry.url,
        "STORAGE": "s3",
        "STORAGE_ROOT": "",
        "S3": s3_registry.store.harbor_s3(s3_registry.bucket),
    }
    monkeypatch.setenv("GC_TIME_WINDOW_HOURS", "0")
    upstream.reset_client()
    yield storage
    upstream.reset_client()


def _keys(storage: S3Storage) -> set[str]:
    return {item["Key"][len(storage.prefix) :] for item in storage._list("")}


def _gc() -> Execution:
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", parameters={})
    run(Task.objects.create(execution=execution).pk)
    execution.refresh_from_db()
    assert execution.status == Status.SUCCESS, execution.status_message
    return execution


def _blob_keys(digest: str) -> str:
    hex_digest = digest.split(":", 1)[1]
    return f"blobs/sha256/{hex_digest[:2]}/{hex_digest}/data"


def test_gc_deletes_exactly_the_unreferenced_keys(s3, make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    kept = push_image("owner", "demo/app", "kept")
    gone = push_image("owner", "demo/app", "gone")
    gone_blobs = set(Artifact.objects.get(digest=gone).blobs.values_list("digest", flat=True))
    kept_blobs = set(Artifact.objects.get(digest=kept).blobs.values_list("digest", flat=True))
    before = _keys(s3)
    assert {_blob_keys(d) for d in gone_blobs | kept_blobs} <= before

    # Blob HEAD through the gate cannot read S3 itself: it asks distribution.
    layer = next(iter(kept_blobs - {kept}))
    head = Client().head(
        f"/v2/demo/app/blobs/{layer}",
        HTTP_AUTHORIZATION=bearer("owner", "demo/app", {"pull"}),
    )
    assert head.status_code == 200 and head["Docker-Content-Digest"] == layer

    deletion.delete_artifact(
        artifact=Artifact.objects.get(digest=gone), actor=Actor(username="owner")
    )
    execution = _gc()
    after = _keys(s3)
    assert execution.extra_attrs["purged_blobs"] == len(gone_blobs)
    assert execution.extra_attrs["purged_manifests"] == 1
    assert execution.extra_attrs["freed_space"] > 0
    # The data and every link of the garbage went, and nothing else did.
    gone_hex = {d.split(":", 1)[1] for d in gone_blobs}
    removed = before - after
    assert {_blob_keys(d) for d in gone_blobs} <= removed
    unexpected = {
        key
        for key in removed
        if not any(h in key for h in gone_hex) and "/_manifests/tags/gone/" not in key
    }
    assert not unexpected  # (the tag went with distribution's manifest DELETE)
    assert not any(h in key for key in after for h in gone_hex if "/current/" not in key)
    assert set(Blob.objects.values_list("digest", flat=True)) == kept_blobs

    # What is kept still pulls from distribution, blob by blob.
    manifest = upstream.request(
        "GET",
        "demo/app",
        f"/v2/demo/app/manifests/{kept}",
        frozenset({"pull"}),
        headers={"Accept": MANIFEST_ACCEPT},
    )
    assert manifest.status_code == 200
    for digest in kept_blobs - {kept}:
        blob = upstream.request(
            "GET", "demo/app", f"/v2/demo/app/blobs/{digest}", frozenset({"pull"})
        )
        assert blob.status_code == 200, digest

    # The consistency check reads the bucket: no drift, until a kept layer's object goes.
    assert not fsck.check(s3, grace=dt.timedelta(0)).drift
    s3.client.delete_object(Bucket=s3.bucket, Key=s3.prefix + _blob_keys(layer))
    report = fsck.check(s3, grace=dt.timedelta(0))
    assert report.missing_blobs == {layer: [f"demo/app@{kept}"]}, report.as_dict()


def test_storage_only_blobs_and_old_uploads_go(s3, make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    push_image("owner", "demo/app", "v1")
    data = b"uploaded, never named by a manifest"
    orphan = "sha256:" + __import__("hashlib").sha256(data).hexdigest()
    s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + _blob_keys(orphan), Body=data)
    s3.client.put_object(
        Bucket=s3.bucket, Key=s3.prefix + "repositories/demo/app/_uploads/u1/startedat", Body=b"x"
    )
    s3.client.put_object(
        Bucket=s3.bucket, Key=s3.prefix + "repositories/demo/app/_uploads/u1/data", Body=b"partial"
    )
    assert [u.repository for u in s3.uploads()] == ["demo/app"]
    execution = _gc()
    assert execution.extra_attrs["purged_blobs"] == 1
    assert execution.extra_attrs["freed_space"] == len(data)
    assert not s3.has_blob(orphan)
    assert execution.extra_attrs["uploads_deleted"] == 0  # younger than GC_UPLOAD_AGE_HOURS


def test_s3_storage_reads_and_prunes_the_layout(s3):
    hex_a, hex_b = "a" * 64, "b" * 64
    put = {
        f"blobs/sha256/aa/{hex_a}/data": b"A" * 10,
        f"blobs/sha256/bb/{hex_b}/data": b"B" * 20,
        f"repositories/p/x/_layers/sha256/{hex_a}/link": b"sha256:" + hex_a.encode(),
        f"repositories/p/y/z/_layers/sha256/{hex_a}/link": b"sha256:" + hex_a.encode(),
        f"repositories/p/x/_manifests/revisions/sha256/{hex_b}/link": b"sha256:" + hex_b.encode(),
        "repositories/p/x/_manifests/tags/v1/current/link": b"sha256:" + hex_b.encode(),
        f"repositories/p/x/_manifests/tags/v1/index/sha256/{hex_b}/link": b"x",
        "repositories/p/x/_uploads/u1/startedat": b"2020-01-01T00:00:00Z",
        "repositories/p/x/_uploads/u1/data": b"partial",
    }
    for key, body in put.items():
        s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + key, Body=body)
    assert {(b.digest, b.size) for b in s3.blobs()} == {
        (f"sha256:{hex_a}", 10),
        (f"sha256:{hex_b}", 20),
    }
    index = s3.link_index()
    assert sorted(k[len(s3.prefix) :] for k in index[f"sha256:{hex_a}"]) == [
        f"repositories/p/x/_layers/sha256/{hex_a}/link",
        f"repositories/p/y/z/_layers/sha256/{hex_a}/link",
    ]
    assert len(index[f"sha256:{hex_b}"]) == 2
    tags = {(link.repository, link.tag) for link in s3.links() if link.kind == "tag_current"}
    assert tags == {("p/x", "v1")}
    (upload,) = s3.uploads()
    assert isinstance(upload, Upload) and upload.repository == "p/x"
    assert upload.started > dt.datetime(2020, 1, 2, tzinfo=dt.UTC)  # the object's date

    assert s3.delete_blob(f"sha256:{hex_a}", index[f"sha256:{hex_a}"]) == 10
    assert not s3.has_blob(f"sha256:{hex_a}") and s3.has_blob(f"sha256:{hex_b}")
    assert s3.delete_blob(f"sha256:{'c' * 64}", []) == 0  # already gone: nothing freed
    s3.delete_upload(upload)
    s3.delete_tag("p/x", "v1")
    assert _keys(s3) == {
        f"blobs/sha256/bb/{hex_b}/data",
        f"repositories/p/x/_manifests/revisions/sha256/{hex_b}/link",
    }


def test_storage_without_root_directory(s3_registry):
    storage = _storage(s3_registry, root="")
    assert storage.prefix == "docker/registry/v2/"
    assert _storage(s3_registry, root="/a/b/").prefix == "a/b/docker/registry/v2/"
    assert isinstance(Path(storage.prefix), Path)
