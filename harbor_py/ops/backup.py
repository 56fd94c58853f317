"""Backup and restore of an instance: database, registry storage, keys
(`manage.py backup <dir>`, `manage.py restore <dir>`; docs/operations.md, "Backup").

A backup directory holds:

    backup.json               what was saved (engine, storage driver, counts, digests checked)
    database.dump             pg_dump --format=custom (PostgreSQL), or
    database.sqlite3          SQLite's online backup API (the embedded default)
    registry/docker/...       distribution's filesystem tree: blob data hard-linked when the
                              backup is on the same filesystem (blobs never change once
                              written), everything else copied; uploads in progress left out.
                              From S3 the objects are downloaded into the same layout, and a
                              restore puts them into whichever storage the instance uses
    keys/                     token signing key and certificate, SECRET_KEY (it encrypts the
                              secrets stored in the database), distribution's HTTP secret

Order, online, with GC running: the database first, then storage. Every blob the dump
names is referenced in the dump's snapshot; storage is copied afterwards, so a blob pushed
meanwhile is at worst an extra file in the copy (GC or fsck adopts it), never a reference
without bytes. The opposite order would miss the blobs of every push that finished between
the copy and the dump. The one gap: an artifact deleted after the snapshot whose blobs a
GC sweeps before the copy reaches them. The backup checks every digest the snapshot names
against the copy and records any missing one in backup.json (restore then tells you to run
`manage.py registry_fsck --repair`, which drops those artifacts: they were deleted anyway).
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from harbor_py.core import env

FORMAT_VERSION = 1
KEY_FILES = (
    "token-es256.key",
    "token-es256.crt",
    "token-bundle.crt",
    "token.key",
    "token.crt",
    "secret_key",
    "registry_http_secret",
)
REFERENCED_DIGESTS_SQL = """
SELECT DISTINCT b.digest FROM blob b JOIN artifact_blob ab ON ab.blob_id = b.id
UNION SELECT digest FROM artifact
"""


class BackupError(Exception):
    pass


@dataclass
class Report:
    directory: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _engine() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _database_url() -> str:
    return settings.RUNTIME.database_url


def _storage_root() -> Path | None:
    if settings.HARBOR.get("STORAGE") == "s3":
        return None
    return Path(settings.HARBOR.get("STORAGE_ROOT") or settings.RUNTIME.storage_dir)


# -- database -----------------------------------------------------------------------------


def _dump_postgresql(target: Path) -> set[str]:
    """pg_dump from a snapshot whose referenced digests we read in the same snapshot."""
    connection.ensure_connection()
    # Django's connection is in autocommit mode: BEGIN/COMMIT delimit our own transaction.
    with connection.connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            cursor.execute(REFERENCED_DIGESTS_SQL)
            digests = {row[0] for row in cursor.fetchall()}
            result = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                 f"--file={target}", _database_url()],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        finally:
            cursor.execute("COMMIT")
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return digests


def _dump_sqlite(target: Path) -> set[str]:
    source = sqlite3.connect(settings.DATABASES["default"]["NAME"])
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # a consistent copy while the platform runs
        return {row[0] for row in copy.execute(REFERENCED_DIGESTS_SQL)}
    finally:
        copy.close()
        source.close()


def _restore_postgresql(source: Path) -> None:
    result = subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
         f"--dbname={_database_url()}", str(source)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


def _database_is_empty() -> bool:
    return "django_migrations" not in connection.introspection.table_names()


# -- storage -------------------------------------------------------------------------------


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def copy_tree(source: Path, target: Path) -> int:
    """Copy distribution's tree; blob `data` files hard-linked when possible. Returns files."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d != "_uploads"]
        relative = Path(dirpath).relative_to(source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        in_blobs = relative.parts[:4] == ("docker", "registry", "v2", "blobs")
        for name in filenames:
            src, dst = Path(dirpath) / name, target / relative / name
            try:
                if in_blobs and name == "data":
                    _link_or_copy(src, dst)
                else:
                    shutil.copy2(src, dst)
            except FileNotFoundError:
                continue  # removed meanwhile (GC, a finished upload)
            count += 1
    return count


def save_storage(target: Path) -> int:
    """Copy the registry storage (filesystem or S3) into `target`; returns the files."""
    root = _storage_root()
    if root is None:
        return _s3().download_tree(target)
    return copy_tree(root, target)


def load_storage(source: Path) -> int:
    """Put a saved tree back into this instance's storage (filesystem or S3)."""
    root = _storage_root()
    if root is None:
        return _s3().upload_tree(source)
    return copy_tree(source, root)


def _s3() -> Any:
    from harbor_gc.storage import S3Storage, storage_from_settings

    storage = storage_from_settings()
    assert isinstance(storage, S3Storage)
    return storage


def _missing_blobs(storage: Path, digests: set[str]) -> list[str]:
    base = storage / "docker/registry/v2/blobs"
    missing = []
    for digest in sorted(digests):
        algorithm, hex_digest = digest.split(":", 1)
        if not (base / algorithm / hex_digest[:2] / hex_digest / "data").exists():
            missing.append(digest)
    return missing


# -- keys ----------------------------------------------------------------------------------


def _copy_keys(source: Path, target: Path) -> list[str]:
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o700)
    copied = []
    for name in KEY_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
            copied.append(name)
    return copied


# -- the two commands ----------------------------------------------------------------------


def _counts() -> dict[str, int]:
    from projects.models import Project
    from registry.models import Artifact, Blob

    return {
        "projects": Project.objects.count(),
        "artifacts": Artifact.objects.count(),
        "blobs": Blob.objects.count(),
    }


def backup(directory: Path) -> Report:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    report = Report(directory)
    engine = _engine()
    started = dt.datetime.now(dt.UTC)
    # 1. The database (see the module docstring for why it goes first).
    if engine == "postgresql":
        digests = _dump_postgresql(directory / "database.dump")
    else:
        digests = _dump_sqlite(directory / "database.sqlite3")
    # 2. Registry storage, in distribution's filesystem layout whatever the driver.
    files = save_storage(directory / "registry")
    missing = _missing_blobs(directory / "registry", digests)
    if missing:
        report.notes.append(
            f"{len(missing)} blobs named by the database were swept by GC during the "
            "backup; after a restore, run `manage.py registry_fsck --repair`"
        )
    # 3. Keys.
    keys = _copy_keys(settings.RUNTIME.keys_dir, directory / "keys")
    if env.get("HARBOR_SECRET_KEY"):
        report.notes.append(
            "SECRET_KEY comes from HARBOR_SECRET_KEY: keep that value with the backup"
        )
    report.manifest = {
        "format": FORMAT_VERSION,
        "harbor_version": settings.HARBOR["VERSION"],
        "started": started.isoformat(),
        "finished": dt.datetime.now(dt.UTC).isoformat(),
        "database": engine,
        "storage": settings.HARBOR.get("STORAGE", "filesystem"),
        "storage_files": files,
        "keys": keys,
        "counts": _counts(),
        "referenced_digests": len(digests),
        "missing_blobs": missing,
    }
    (directory / "backup.json").write_text(json.dumps(report.manifest, indent=2) + "\n")
    return report


def restore(directory: Path, *, force: bool = False) -> Report:
    manifest_path = directory / "backup.json"
    if not manifest_path.exists():
        raise BackupError(f"{directory} holds no backup.json")
    manifest = json.loads(manifest_path.read_text())
    engine = _engine()
    if manifest["database"] != engine:
        raise BackupError(f"the backup is of a {manifest['database']} database, this is {engine}")
    if not force and not _database_is_empty():
        raise BackupError("the database is not empty: restore into a fresh one (or --force)")
    report = Report(directory, manifest)
    # Keys first: `platform prepare` would otherwise generate new ones.
    _copy_keys(directory / "keys", settings.RUNTIME.keys_dir)
    if (directory / "registry").is_dir():
        load_storage(directory / "registry")
    else:
        report.notes.append("the backup holds no registry storage: restore it separately")
    if engine == "postgresql":
        connection.close()
        _restore_postgresql(directory / "database.dump")
    else:
        connection.close()
        name = settings.DATABASES["default"]["NAME"]
        for stale in (f"{name}-wal", f"{name}-shm"):  # the old database's journal
            Path(stale).unlink(missing_ok=True)
        shutil.copy2(directory / "database.sqlite3", name)
    if manifest.get("missing_blobs"):
        report.notes.append(
            f"{len(manifest['missing_blobs'])} blobs were missing from the copy: run "
            "`manage.py registry_fsck --repair` once the platform runs"
        )
    return report
