"""Mark and sweep over a real filesystem layout and the real database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest
from django.utils import timezone

from harbor_gc import collector, guard
from harbor_gc.storage import FilesystemStorage
from jobs.models import Execution, Status, Task
from jobs.runner import JobContext, run
from registry.models import Artifact, ArtifactBlob, Blob, Repository

# transaction=True: the sweep runs in worker threads with their own connections.
pytestmark = pytest.mark.django_db(transaction=True)
OLD = timezone.now() - dt.timedelta(hours=5)


@pytest.fixture
def storage_root(tmp_path, settings, monkeypatch):
    settings.RUNTIME = dataclasses.replace(settings.RUNTIME, data_dir=tmp_path)
    settings.HARBOR = {**settings.HARBOR, "STORAGE": "filesystem", "STORAGE_ROOT": ""}
    monkeypatch.setenv("GC_TIME_WINDOW_HOURS", "2")
    return tmp_path / "registry"


def _write_blob(root: Path, data: bytes, *, repo: str = "p/app", age: dt.datetime = OLD) -> str:
    hex_digest = hashlib.sha256(data).hexdigest()
    base = root / "docker/registry/v2"
    blob = base / "blobs/sha256" / hex_digest[:2] / hex_digest
    blob.mkdir(parents=True)
    (blob / "data").write_bytes(data)
    os.utime(blob / "data", (age.timestamp(), age.timestamp()))
    link = base / "repositories" / repo / "_layers/sha256" / hex_digest
    link.mkdir(parents=True)
    (link / "link").write_text(f"sha256:{hex_digest}")
    return f"sha256:{hex_digest}"


def _row(digest: str, size: int, *, age: dt.datetime = OLD) -> Blob:
    blob = Blob.objects.create(digest=digest, size=size)
    Blob.objects.filter(pk=blob.pk).update(update_time=age)
    return blob


def _referenced(digest: str, make_project) -> None:
    project = make_project("p")
    repo = Repository.objects.create(project=project, name="p/app")
    artifact = Artifact.objects.create(
        repository=repo, digest="sha256:" + "a" * 64, media_type="x", manifest_media_type="y"
    )
    ArtifactBlob.objects.create(artifact=artifact, blob=Blob.objects.get(digest=digest))


def _gc(parameters: dict | None = None) -> Execution:
    execution = Execution.objects.create(
        vendor_type="GARBAGE_COLLECTION", parameters=parameters or {}
    )
    task = Task.objects.create(execution=execution)
    run(task.pk)
    execution.refresh_from_db()
    return execution


def test_unreferenced_old_blobs_go_and_space_is_freed(storage_root, make_project):
    kept = _write_blob(storage_root, b"kept" * 100)
    gone = _write_blob(storage_root, b"gone" * 100)
    orphan = _write_blob(storage_root, b"never in the database" * 10)
    young = _write_blob(storage_root, b"young", age=timezone.now())
    _row(kept, 400)
    _row(gone, 400)
    _referenced(kept, make_project)

    execution = _gc()
    assert execution.status == Status.SUCCESS, execution.status_message
    storage = FilesystemStorage(storage_root)
    assert storage.has_blob(kept) and storage.has_blob(young)
    assert not storage.has_blob(gone) and not storage.has_blob(orphan)
    assert set(Blob.objects.values_list("digest", flat=True)) == {kept}
    assert execution.extra_attrs["blobs_deleted"] == 2
    assert execution.extra_attrs["freed_bytes"] == 400 + len(b"never in the database" * 10)
    links = storage.link_index()
    assert gone not in links and kept in links


def test_dry_run_reports_the_same_and_deletes_nothing(storage_root):
    gone = _write_blob(storage_root, b"gone" * 100)
    _row(gone, 400)
    orphan = _write_blob(storage_root, b"orphan")
    dry = _gc({"dry_run": True})
    assert dry.extra_attrs["blobs_deleted"] == 2
    assert dry.extra_attrs["freed_bytes"] == 406
    storage = FilesystemStorage(storage_root)
    assert storage.has_blob(gone) and storage.has_blob(orphan)
    real = _gc()
    assert (real.extra_attrs["blobs_deleted"], real.extra_attrs["freed_bytes"]) == (2, 406)


def test_a_touched_blob_survives_a_concurrent_sweep(storage_root):
    digest = _write_blob(storage_root, b"racy" * 10)
    _row(digest, 40)
    collector.mark(timezone.now() - dt.timedelta(hours=2), dry_run=False)
    row = Blob.objects.filter(digest=digest).values("id", "digest", "version").get()
    assert Blob.objects.get(digest=digest).status == Blob.Status.DELETE
    # A client HEADs or pushes a manifest naming it before the sweeper gets there:
    assert guard.touch([digest])[1] == set()
    assert collector._sweep_one(row, FilesystemStorage(storage_root), {}) is None
    assert FilesystemStorage(storage_root).has_blob(digest)
    assert Blob.objects.get(digest=digest).status == Blob.Status.NONE


def test_a_deleting_blob_is_reported_to_the_client(storage_root):
    digest = _write_blob(storage_root, b"doomed")
    Blob.objects.create(digest=digest, status=Blob.Status.DELETING)
    rows, deleting = guard.touch([digest, "sha256:" + "b" * 64])
    assert deleting == {digest} and list(rows) == ["sha256:" + "b" * 64]
    assert guard.status_of(digest) == Blob.Status.DELETING
    assert not guard.touch_one(digest)


def test_a_run_that_dies_mid_deletion_is_finished_by_the_next(storage_root, monkeypatch):
    digest = _write_blob(storage_root, b"half-deleted" * 10)
    _row(digest, 120)
    real_finish = collector._finish

    def database_gone(deleted: list[int], failed: list[int]) -> None:
        raise RuntimeError("connection to the database lost")

    monkeypatch.setattr(collector, "_finish", database_gone)
    died = _gc()
    assert died.status == Status.ERROR
    assert guard.status_of(digest) == Blob.Status.DELETING
    assert not guard.touch_one(digest)  # refused while deleting: the client uploads again
    _write_blob(storage_root, b"half-deleted" * 10)  # the upload lands; its push is refused

    monkeypatch.setattr(collector, "_finish", real_finish)
    finished = _gc()
    assert finished.status == Status.SUCCESS, finished.status_message
    assert finished.extra_attrs["blobs_deleted"] == 1
    assert not FilesystemStorage(storage_root).has_blob(digest)
    assert not Blob.objects.filter(digest=digest).exists()
    assert "left mid-deletion by an earlier run" in Task.objects.get(execution=finished).log
    assert guard.touch_one(digest)  # the next push of it is accepted again


def test_a_dry_run_counts_rows_left_mid_deletion(storage_root):
    digest = _write_blob(storage_root, b"stuck")
    Blob.objects.create(digest=digest, size=5, status=Blob.Status.DELETING)
    assert _gc({"dry_run": True}).extra_attrs["blobs_deleted"] == 1
    assert FilesystemStorage(storage_root).has_blob(digest)


def test_abandoned_uploads_are_removed(storage_root):
    uploads = storage_root / "docker/registry/v2/repositories/p/app/_uploads"
    (uploads / "old").mkdir(parents=True)
    (uploads / "old" / "startedat").write_text("2020-01-01T00:00:00.123456789Z")
    (uploads / "new").mkdir()
    (uploads / "new" / "startedat").write_text(timezone.now().isoformat())
    execution = _gc()
    assert execution.extra_attrs["uploads_deleted"] == 1
    assert not (uploads / "old").exists() and (uploads / "new").exists()


def test_window_zero_takes_everything_unreferenced(storage_root, monkeypatch):
    monkeypatch.setenv("GC_TIME_WINDOW_HOURS", "0")
    young = _write_blob(storage_root, b"young", age=timezone.now() - dt.timedelta(seconds=2))
    assert _gc().extra_attrs["blobs_deleted"] == 1
    assert not FilesystemStorage(storage_root).has_blob(young)


def test_stop_request_stops_the_sweep(storage_root):
    for i in range(3):
        _row(_write_blob(storage_root, f"blob{i}".encode()), 5)
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", stop_requested=True)
    context = JobContext(
        task_id=Task.objects.create(execution=execution).pk,
        execution_id=execution.pk,
        parameters={},
    )
    collector.mark(timezone.now(), dry_run=False)
    with pytest.raises(collector.Stopped):
        collector.sweep(context, FilesystemStorage(storage_root), 2, collector.Results())
    assert Blob.objects.filter(status=Blob.Status.DELETE).count() == 3


@pytest.mark.parametrize(
    "parameters", [{"workers": 0}, {"workers": 6}, {"dry_run": "no"}, {"delete_untagged": 1}]
)
def test_bad_parameters(parameters):
    from harbor_py.core.errors import DomainError

    with pytest.raises(DomainError):
        collector.check_parameters(parameters)


def test_an_upload_that_completes_during_the_listing_is_skipped(storage_root, monkeypatch):
    import shutil

    from harbor_gc import storage as storage_module

    uploads = storage_root / "docker/registry/v2/repositories/p/app/_uploads"
    (uploads / "finishing").mkdir(parents=True)  # no startedat yet: dated by the directory
    listed = storage_module._scandir

    def scandir_then_complete(directory):
        entries = listed(directory)
        if Path(directory) == uploads:
            shutil.rmtree(uploads / "finishing", ignore_errors=True)  # upload completed
        return entries

    monkeypatch.setattr(storage_module, "_scandir", scandir_then_complete)
    assert list(FilesystemStorage(storage_root).uploads()) == []
    assert _gc().status == Status.SUCCESS


def test_progress_is_reported_while_the_sweep_goes(storage_root, monkeypatch):
    """#28: the GC page's progress bar shows real progress: the sweep reports after each
    round of chunks, and a finished run has reached 100."""
    monkeypatch.setattr(collector, "SWEEP_CHUNK", 1)
    for i in range(4):
        _row(_write_blob(storage_root, f"blob{i}".encode()), 5)
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION")
    task = Task.objects.create(execution=execution, extra_attrs={"kept": 1})
    seen: list[int] = []

    @dataclasses.dataclass
    class Recording(JobContext):
        def progress(self, percent: int) -> None:
            super().progress(percent)
            seen.append(Task.objects.get(pk=task.pk).extra_attrs["progress"])

    context = Recording(task_id=task.pk, execution_id=execution.pk, parameters={})
    collector.mark(timezone.now(), dry_run=False)
    collector.sweep(context, FilesystemStorage(storage_root), 1, collector.Results())
    assert seen == [40, 53, 67, 81]  # 40 + 55 * round / 4 rounds of one chunk
    assert Task.objects.get(pk=task.pk).extra_attrs == {"kept": 1, "progress": 81}
    Execution.objects.filter(pk=execution.pk).update(status=Status.SUCCESS)
    finished = _gc()
    assert finished.tasks.get().extra_attrs["progress"] == 100
