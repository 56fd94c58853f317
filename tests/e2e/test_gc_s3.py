"""A whole instance on S3 (HARBOR_STORAGE=s3, distribution's s3 driver against a real
SeaweedFS on loopback): pushes land in the bucket, GC deletes exactly the garbage keys."""

from __future__ import annotations

import time
from pathlib import Path

from harbor_gc.storage import S3Storage
from tests.imagegen import layout_blobs, make_image, random_layer
from tests.seaweedfs import SeaweedFS
from tests.stack import ADMIN_PASSWORD, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def test_push_delete_and_gc_on_s3(tmp_path: Path, seaweedfs: SeaweedFS) -> None:
    bucket = seaweedfs.new_bucket("e2e")
    storage = seaweedfs.storage(bucket, "/harbor")
    env = {**seaweedfs.harbor_env(bucket, "/harbor"), "GC_TIME_WINDOW_HOURS": "0"}
    with running_instance(tmp_path / "instance", extra_env=env) as instance:
        _exercise(instance, storage, tmp_path)


def _exercise(instance, storage: S3Storage, tmp_path: Path) -> None:
    instance.create_project("s3p")
    base = random_layer(64 * 1024)
    gone = make_image(tmp_path / "gone", layers=[base, random_layer(4096)])
    kept = make_image(tmp_path / "kept", layers=[base, random_layer(8192)])
    for layout, tag in ((gone, "gone"), (kept, "kept")):
        skopeo("copy", layout.ref, f"docker://{instance.host}/s3p/app:{tag}", creds=ADMIN)
    stored = {blob.digest for blob in storage.blobs()}
    assert set(layout_blobs(gone.path)) | set(layout_blobs(kept.path)) <= stored
    assert not (instance.data_dir / "registry" / "docker").exists()  # nothing on local disk

    with instance.client() as api:
        deleted = api.delete(
            f"/api/v2.0/projects/s3p/repositories/app/artifacts/{gone.manifest_digest}"
        )
        assert deleted.status_code == 200, deleted.text
        started = api.post(
            "/api/v2.0/system/gc/schedule",
            json={"schedule": {"type": "Manual"}, "parameters": {"workers": 2}},
        )
        assert started.status_code == 201, started.text
        job = started.headers["Location"].rsplit("/", 1)[1]
        deadline = time.monotonic() + 120
        while (item := api.get(f"/api/v2.0/system/gc/{job}").json())["job_status"] not in (
            "Success",
            "Error",
            "Stopped",
        ):
            assert time.monotonic() < deadline, "GC did not finish"
            time.sleep(0.3)
        log = api.get(f"/api/v2.0/system/gc/{job}/log").text
        assert item["job_status"] == "Success", log

    garbage = set(layout_blobs(gone.path)) - set(layout_blobs(kept.path))
    after = {blob.digest for blob in storage.blobs()}
    assert not garbage & after, "garbage left in the bucket"
    assert set(layout_blobs(kept.path)) <= after
    assert after == set(layout_blobs(kept.path))
    links = storage.link_index()
    assert not garbage & set(links)
    assert '"purged_manifests": 1' in item["job_parameters"]

    target = tmp_path / "pulled"
    skopeo(
        "copy",
        "--preserve-digests",
        f"docker://{instance.host}/s3p/app:kept",
        f"oci:{target}:latest",
        creds=ADMIN,
    )
    assert layout_blobs(target) == layout_blobs(kept.path)
