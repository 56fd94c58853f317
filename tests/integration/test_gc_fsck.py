"""registry_fsck over a real filesystem layout of distribution's and the real database."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from harbor_gc import fsck
from harbor_gc.storage import FilesystemStorage
from registry.models import Artifact, ArtifactBlob, Blob, Repository, Tag

pytestmark = pytest.mark.django_db
OLD = timezone.now() - dt.timedelta(hours=5)
REPO = "p/app"


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / "docker/registry/v2"

    def blob(self, data: bytes, *, age: dt.datetime = OLD) -> str:
        hex_digest = hashlib.sha256(data).hexdigest()
        directory = self.base / "blobs/sha256" / hex_digest[:2] / hex_digest
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").write_bytes(data)
        os.utime(directory / "data", (age.timestamp(), age.timestamp()))
        return f"sha256:{hex_digest}"

    def link(self, kind: str, digest: str, repo: str = REPO) -> None:
        where = {"layer": "_layers", "revision": "_manifests/revisions"}[kind]
        directory = self.base / "repositories" / repo / where / "sha256" / digest[7:]
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "link").write_text(digest)

    def tag(self, tag: str, digest: str, repo: str = REPO) -> Path:
        tags = self.base / "repositories" / repo / "_manifests/tags" / tag
        (tags / "current").mkdir(parents=True, exist_ok=True)
        (tags / "current/link").write_text(digest)
        index = tags / "index/sha256" / digest[7:]
        index.mkdir(parents=True, exist_ok=True)
        (index / "link").write_text(digest)
        return tags


@pytest.fixture
def layout(tmp_path, settings) -> Layout:
    settings.HARBOR = {**settings.HARBOR, "STORAGE": "filesystem", "STORAGE_ROOT": str(tmp_path)}
    return Layout(tmp_path)


@pytest.fixture
def repository(make_project) -> Repository:
    return Repository.objects.create(project=make_project("p"), name=REPO)


def _image(
    layout: Layout,
    repository: Repository,
    name: str,
    *,
    tag: str | None = "v1",
    revision: bool = True,
    layer_on_disk: bool = True,
    pushed: dt.datetime = OLD,
) -> Artifact:
    """An image as a push leaves it: blobs and links on disk, rows in the database."""
    manifest = layout.blob(f"manifest {name}".encode())
    config = layout.blob(f"config {name}".encode())
    layer_data = f"layer {name}".encode()
    sizes = {manifest: len(f"manifest {name}"), config: len(f"config {name}")}
    layer = (
        layout.blob(layer_data)
        if layer_on_disk
        else "sha256:" + hashlib.sha256(layer_data).hexdigest()
    )
    for digest in (config, layer):
        layout.link("layer", digest)
    if revision:
        layout.link("revision", manifest)
    artifact = Artifact.objects.create(
        repository=repository, digest=manifest, media_type="c", manifest_media_type="m"
    )
    Artifact.objects.filter(pk=artifact.pk).update(push_time=pushed)
    for digest in (manifest, config, layer):
        blob, _ = Blob.objects.get_or_create(
            digest=digest, defaults={"size": sizes.get(digest, len(layer_data))}
        )
        ArtifactBlob.objects.create(artifact=artifact, blob=blob)
    if tag:
        Tag.objects.create(repository=repository, artifact=artifact, name=tag)
        layout.tag(tag, manifest)
    return artifact


def test_a_consistent_registry_has_no_drift(layout, repository):
    _image(layout, repository, "a")
    report = fsck.check(FilesystemStorage(layout.root))
    assert not report.drift, report.as_dict()


def test_what_distribution_leaves_of_a_deleted_manifest_is_no_drift(layout, repository):
    """distribution's manifest DELETE removes the revision's and the tag's link files and
    leaves their directories: no manifest and no tag to report."""
    kept = _image(layout, repository, "a")
    deleted_data = b"a deleted manifest"
    deleted = layout.blob(deleted_data)  # its blob is still another's
    layout.link("revision", deleted)
    tags = layout.tag("was-deleted", deleted)
    (layout.base / f"repositories/{REPO}/_manifests/revisions/sha256/{deleted[7:]}/link").unlink()
    (tags / "current/link").unlink()
    blob = Blob.objects.create(digest=deleted, size=len(deleted_data))
    ArtifactBlob.objects.create(artifact=kept, blob=blob)
    report = fsck.check(FilesystemStorage(layout.root))
    assert not report.drift, report.as_dict()


def test_drift_in_both_directions_is_reported(layout, repository):
    _image(layout, repository, "ok")
    no_layer = _image(layout, repository, "no-layer", tag="v2", layer_on_disk=False)
    no_revision = _image(layout, repository, "no-revision", tag="v3", revision=False)
    _image(layout, repository, "just-pushed", tag=None, revision=False, pushed=timezone.now())
    unknown = layout.blob(b"uploaded, never in a manifest")
    layout.tag("gone-from-db", no_layer.digest)
    stray_manifest = layout.blob(b"manifest nobody has")
    layout.link("revision", stray_manifest)
    Blob.objects.create(digest="sha256:" + "d" * 64)  # a row whose data is gone

    report = fsck.check(FilesystemStorage(layout.root))
    layer = "sha256:" + hashlib.sha256(b"layer no-layer").hexdigest()
    assert report.missing_blobs == {layer: [f"{REPO}@{no_layer.digest}"]}
    assert report.missing_manifests == [(no_revision.pk, REPO, no_revision.digest)]
    assert sorted(b.digest for b in report.unknown_blobs) == sorted([unknown, stray_manifest])
    assert report.stale_tags == [(REPO, "gone-from-db")]
    assert report.unknown_manifests == [(REPO, stray_manifest)]
    assert report.rows_without_data == ["sha256:" + "d" * 64]
    assert report.drift


def test_repair_fixes_what_is_safely_fixable(layout, repository):
    kept = _image(layout, repository, "kept")
    broken = _image(layout, repository, "broken", tag="v2", revision=False)
    unknown = layout.blob(b"orphan upload")
    stale = layout.tag("stale", kept.digest)
    storage = FilesystemStorage(layout.root)

    report = fsck.check(storage)
    assert fsck.repair(storage, report) == {
        "artifacts_deleted": 1,
        "blobs_adopted": 1,
        "storage_tags_removed": 2,  # the stale one and the broken artifact's
        "blob_sizes_fixed": 0,
    }
    assert not Artifact.objects.filter(pk=broken.pk).exists()
    assert Artifact.objects.filter(pk=kept.pk).exists()
    adopted = Blob.objects.get(digest=unknown)
    assert adopted.status == Blob.Status.NONE
    assert abs((adopted.update_time - OLD).total_seconds()) < 1  # dated by its upload
    assert not stale.exists()
    assert (layout.base / f"repositories/{REPO}/_manifests/tags/v1/current/link").exists()

    after = fsck.check(storage)
    # Only what GC reclaims is left: the broken artifact's blobs, now unreferenced rows.
    assert not (after.missing_blobs or after.missing_manifests or after.unknown_blobs)
    assert not after.stale_tags


@pytest.mark.django_db(transaction=True)  # the sweep's threads see committed rows only
def test_repaired_orphans_are_collected_by_gc(layout, repository, monkeypatch):
    from jobs.models import Execution, Task
    from jobs.runner import run

    _image(layout, repository, "kept")
    unknown = layout.blob(b"orphan to collect")
    storage = FilesystemStorage(layout.root)
    fsck.repair(storage, fsck.check(storage))
    monkeypatch.setenv("GC_TIME_WINDOW_HOURS", "2")
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", parameters={})
    run(Task.objects.create(execution=execution).pk)
    execution.refresh_from_db()
    assert execution.extra_attrs["purged_blobs"] == 1, execution.status_message
    assert not storage.has_blob(unknown)
    assert not fsck.check(storage).drift


def test_blob_rows_with_wrong_sizes_are_repaired_with_the_projects_usage(layout, repository):
    """Rows that took a manifest's claimed size before pushes were checked (issue #20)."""
    from quotas.models import Quota

    artifact = _image(layout, repository, "lied")
    layer = "sha256:" + hashlib.sha256(b"layer lied").hexdigest()
    Blob.objects.filter(digest=layer).update(size=10 * 1024**4)
    Quota.objects.update_or_create(project=repository.project, defaults={"used": 10 * 1024**4})
    storage = FilesystemStorage(layout.root)
    report = fsck.check(storage)
    assert report.wrong_sizes == [(layer, 10 * 1024**4, len(b"layer lied"))]
    assert report.drift
    assert fsck.repair(storage, report)["blob_sizes_fixed"] == 1
    assert Blob.objects.get(digest=layer).size == len(b"layer lied")
    true_usage = sum(b.size for b in artifact.blobs.all())
    assert Quota.objects.get(project=repository.project).used == true_usage
    assert not fsck.check(storage).drift


def test_the_command_reports_and_repairs(layout, repository):
    kept = _image(layout, repository, "kept")
    layout.tag("stale", kept.digest)
    out = io.StringIO()
    call_command("registry_fsck", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["stale_tags"] == [{"repository": REPO, "tag": "stale"}]
    assert report["repaired"] == {}

    out = io.StringIO()
    call_command("registry_fsck", "--repair", stdout=out)
    assert "stale_tags: 1" in out.getvalue()
    assert '"storage_tags_removed": 1' in out.getvalue()
    out = io.StringIO()
    call_command("registry_fsck", stdout=out)
    assert "database and storage agree" in out.getvalue()
