"""Backup and restore round trip: push with skopeo, back up online, destroy the instance
(data directory and database), restore into a fresh one, pull back bit-identically, and
the API shows the same projects and artifacts. PostgreSQL and the SQLite default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.imagegen import layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, Instance, recreate_database, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def _inventory(instance: Instance) -> dict:
    with instance.client() as api:
        projects = sorted(
            (p["name"], p["metadata"].get("public")) for p in api.get("/api/v2.0/projects").json()
        )
        artifacts = {}
        for name, _ in projects:
            for repo in api.get(f"/api/v2.0/projects/{name}/repositories").json():
                short = quote(quote(repo["name"].split("/", 1)[1], safe=""), safe="")
                listed = api.get(f"/api/v2.0/projects/{name}/repositories/{short}/artifacts").json()
                artifacts[repo["name"]] = sorted(
                    (a["digest"], tuple(sorted(t["name"] for t in a["tags"] or []))) for a in listed
                )
    return {"projects": projects, "artifacts": artifacts}


@pytest.mark.parametrize("database", ["postgres", None], ids=["postgresql", "sqlite"])
def test_backup_restore_round_trip(tmp_path: Path, database: str | None) -> None:
    original = Instance(data_dir=tmp_path / "original", database=database)
    original.start()
    images = {
        "team/app:v1": make_image(tmp_path / "img1", layer_sizes=[400_000, 3000]),
        "team/app:v2": make_image(tmp_path / "img2", layer_sizes=[100_000]),
        "tools:1.0": make_image(tmp_path / "img3", layer_sizes=[20_000]),
    }
    try:
        original.create_project("private-one")
        original.create_project("public-one", public=True)
        original.create_user("bob", "Bob12345!x")
        for ref, image in images.items():
            project = "public-one" if ref.startswith("tools") else "private-one"
            skopeo("copy", image.ref, f"docker://{original.host}/{project}/{ref}", creds=ADMIN)
        before = _inventory(original)
        backup_dir = tmp_path / "backup"
        done = original.manage("backup", str(backup_dir))  # online: the platform runs
        manifest = json.loads((backup_dir / "backup.json").read_text())
        assert manifest["counts"]["artifacts"] == 3 and manifest["missing_blobs"] == []
        assert "backup written" in done.stdout
        refused = original.manage("backup", str(backup_dir), check=False)
        assert refused.returncode != 0 and "not empty" in refused.stderr
    finally:
        original.stop()  # drops the PostgreSQL database
    shutil.rmtree(original.data_dir)

    restored = Instance(data_dir=tmp_path / "restored", database=database)
    if database == "postgres":
        recreate_database(restored.db_name)
    result = restored.manage("restore", str(backup_dir), check=False)
    assert result.returncode == 0, result.stderr
    up = restored.manage("platform", "up", "--wait", "180", check=False)
    try:
        assert up.returncode == 0, up.stderr + restored.logs()
        assert _inventory(restored) == before
        for ref, image in images.items():
            project = "public-one" if ref.startswith("tools") else "private-one"
            out = tmp_path / f"pulled-{ref.replace('/', '_').replace(':', '_')}"
            skopeo("copy", f"docker://{restored.host}/{project}/{ref}", f"oci:{out}:x", creds=ADMIN)
            assert layout_blobs(out) == layout_blobs(image.path), ref
        # Users and their passwords came back; the public project is public to anonymous.
        skopeo("inspect", f"docker://{restored.host}/private-one/team/app:v1", creds=ADMIN)
        with restored.client(("bob", "Bob12345!x")) as bob:
            assert bob.get("/api/v2.0/users/current").json()["username"] == "bob"
        skopeo("inspect", f"docker://{restored.host}/public-one/tools:1.0")
        # Restoring over a database that is in use is refused, and harms nothing.
        again = restored.manage("restore", str(backup_dir), check=False)
        assert again.returncode != 0 and "not empty" in again.stderr
        assert _inventory(restored) == before
    finally:
        restored.stop()
