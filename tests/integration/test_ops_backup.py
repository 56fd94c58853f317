"""The pieces of backup/restore that need no instance: distribution's tree copied with blob
data hard-linked (immutable) and everything else copied, uploads left out; refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harbor_py.ops import backup

HEX = "ab" + "0" * 62


def _tree(root: Path) -> None:
    v2 = root / "docker/registry/v2"
    (v2 / f"blobs/sha256/ab/{HEX}").mkdir(parents=True)
    (v2 / f"blobs/sha256/ab/{HEX}/data").write_bytes(b"layer")
    link = v2 / f"repositories/p/app/_layers/sha256/{HEX}"
    link.mkdir(parents=True)
    (link / "link").write_text(f"sha256:{HEX}")
    (v2 / "repositories/p/app/_uploads/u1").mkdir(parents=True)
    (v2 / "repositories/p/app/_uploads/u1/data").write_bytes(b"partial")


def test_copy_tree_links_blobs_copies_links_and_skips_uploads(tmp_path: Path):
    _tree(tmp_path / "src")
    files = backup.copy_tree(tmp_path / "src", tmp_path / "dst")
    assert files == 2
    blob = f"docker/registry/v2/blobs/sha256/ab/{HEX}/data"
    link = f"docker/registry/v2/repositories/p/app/_layers/sha256/{HEX}/link"
    src, dst = tmp_path / "src", tmp_path / "dst"
    assert (dst / blob).stat().st_ino == (src / blob).stat().st_ino  # hard link
    assert (dst / link).stat().st_ino != (src / link).stat().st_ino  # a copy: links change
    assert (dst / link).read_text() == f"sha256:{HEX}"
    assert not (dst / "docker/registry/v2/repositories/p/app/_uploads").exists()
    assert backup._missing_blobs(dst, {f"sha256:{HEX}", "sha256:" + "cd" * 32}) == [
        "sha256:" + "cd" * 32
    ]


@pytest.mark.django_db
def test_restore_refusals(tmp_path: Path):
    with pytest.raises(backup.BackupError, match=r"no backup\.json"):
        backup.restore(tmp_path)
    (tmp_path / "backup.json").write_text(json.dumps({"database": "sqlite", "storage": "fs"}))
    with pytest.raises(backup.BackupError, match="sqlite database, this is postgresql"):
        backup.restore(tmp_path)
    (tmp_path / "backup.json").write_text(json.dumps({"database": "postgresql", "storage": "fs"}))
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(tmp_path)  # the test database is migrated


def test_backup_refuses_a_directory_that_is_not_empty(tmp_path: Path):
    (tmp_path / "something").write_text("x")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.backup(tmp_path)
