"""GC benchmark: the mark over a million blob rows, the sweep of 100,000 unused blobs.

    .venv/bin/python -m bench.bench_gc                      # ~1-2 min on a 2-core box
    .venv/bin/python -m bench.bench_gc --blobs 200000 --sweep 20000   # a quick look

mark   --blobs rows are COPYed into a fresh PostgreSQL database (hpy_bench_gc), every other
       one referenced by an artifact (10 blobs per artifact), all older than the window;
       mark() moves the unreferenced half to `delete` in one statement. Also timed: the dry
       run's count of the same set.
sweep  --sweep blobs of 64 bytes, each with its data file and a layer link, in a temporary
       filesystem layout of distribution's, with their rows in `delete`; sweep() claims them
       (compare-and-set), deletes them from the filesystem and drops their rows, with
       workers=1 and again with workers=5 (a fresh layout each time). Then the same with
       --s3-sweep blobs in a bucket of a real SeaweedFS (tests/seaweedfs.py) on loopback.

Results on stdout, and as JSON with --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.seaweedfs import SeaweedFS, running_seaweedfs
from tests.stack import PG_DSN, drop_database, recreate_database

DATABASE = "hpy_bench_gc"
OLD = "2020-01-01 00:00:00+00"


def _setup_django(data_dir: Path) -> None:
    os.environ["DATABASE_URL"] = recreate_database(DATABASE)
    os.environ["HARBOR_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbor_py.settings_test")
    import django

    django.setup()
    from django.core.management import call_command

    for app in ("registry", "jobs"):  # the tables GC touches, and what they depend on
        call_command("migrate", app, interactive=False, verbosity=0)


def _copy(table: str, columns: Sequence[str], rows: Any) -> None:
    """COPY rows (tuples of str) into a table, through psycopg, in 8 MB slices."""
    from django.db import connection

    buffer = io.StringIO()
    with connection.cursor() as cursor:

        def flush() -> None:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            buffer.seek(0)
            buffer.truncate()

        for row in rows:
            buffer.write("\t".join(row) + "\n")
            if buffer.tell() > 8_000_000:
                flush()
        flush()


def _digest(i: int, salt: int = 0) -> str:
    return f"sha256:{salt:08x}{i:056x}"


def _fixtures() -> int:
    """A project and a repository to hang artifacts on; returns the repository id."""
    from accounts.models import User
    from projects.models import Project
    from registry.models import Repository

    owner = User.objects.create(username="bench-owner", email="bench@example.com")
    project = Project.objects.create(name="bench", owner=owner)
    return Repository.objects.create(project=project, name="bench/app").pk


def _execute(sql: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)


def bench_mark(blobs: int) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from harbor_gc import collector
    from harbor_py.management.commands.seed import ARTIFACT_COLUMNS

    repository_id = _fixtures()
    started = time.perf_counter()
    _copy(
        "blob",
        ["digest", "content_type", "size", "status", "version", "creation_time", "update_time"],
        ((_digest(i), "", "1024", "none", "0", OLD, OLD) for i in range(blobs)),
    )
    artifacts = blobs // 20  # 10 referenced blobs each: half of all blobs
    _copy(
        "artifact",
        ARTIFACT_COLUMNS,
        (
            (str(repository_id), _digest(i, 1), "IMAGE", "x", "y", "", "", "0", "{}", "{}", OLD)
            for i in range(artifacts)
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM blob")
        first_blob = cursor.fetchone()[0]
        cursor.execute("SELECT MIN(id) FROM artifact")
        first_artifact = cursor.fetchone()[0]
    # Artifact a references blobs 20a, 20a+2, ..., 20a+18: every even blob.
    _copy(
        "artifact_blob",
        ["artifact_id", "blob_id"],
        (
            (str(first_artifact + a), str(first_blob + 20 * a + 2 * k))
            for a in range(artifacts)
            for k in range(10)
        ),
    )
    _execute("ANALYZE blob; ANALYZE artifact_blob; ANALYZE artifact")
    loaded = time.perf_counter() - started

    cutoff = timezone.now() - dt.timedelta(hours=2)
    started = time.perf_counter()
    count, size, _ = collector.mark(cutoff, dry_run=True)
    dry_seconds = time.perf_counter() - started
    started = time.perf_counter()
    marked, _, _ = collector.mark(cutoff, dry_run=False)
    mark_seconds = time.perf_counter() - started
    assert count == marked == blobs - artifacts * 10, (count, marked)
    return {
        "blob_rows": blobs,
        "referenced": artifacts * 10,
        "load_seconds": round(loaded, 1),
        "dry_run_count_seconds": round(dry_seconds, 2),
        "mark_seconds": round(mark_seconds, 2),
        "marked": marked,
        "rows_per_second": round(blobs / mark_seconds),
        "marked_per_second": round(marked / mark_seconds),
        "dry_run_bytes": size,
    }


def _layout(root: Path, count: int, salt: int) -> list[str]:
    """count blobs of 64 bytes with a layer link each; returns their digests."""
    base = root / "docker/registry/v2"
    layers = base / "repositories/bench/app/_layers/sha256"
    layers.mkdir(parents=True)
    digests = []
    data = b"x" * 64
    for i in range(count):
        digest = _digest(i, salt)
        hex_digest = digest.split(":", 1)[1]
        directory = base / "blobs/sha256" / hex_digest[:2] / hex_digest
        directory.mkdir(parents=True)
        (directory / "data").write_bytes(data)
        link = layers / hex_digest
        link.mkdir()
        (link / "link").write_text(digest)
        digests.append(digest)
    return digests


def _s3_layout(store: SeaweedFS, bucket: str, count: int, salt: int) -> list[str]:
    """The same layout as _layout, as objects in a bucket (16 uploads at a time)."""
    client = store.client(connections=16)
    prefix = "registry/docker/registry/v2/"
    digests = [_digest(i, salt) for i in range(count)]

    def put(digest: str) -> None:
        hex_digest = digest.split(":", 1)[1]
        client.put_object(
            Bucket=bucket,
            Key=f"{prefix}blobs/sha256/{hex_digest[:2]}/{hex_digest}/data",
            Body=b"x" * 64,
        )
        client.put_object(
            Bucket=bucket,
            Key=f"{prefix}repositories/bench/app/_layers/sha256/{hex_digest}/link",
            Body=digest.encode(),
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, digests))
    return digests


def bench_sweep(count: int, workers: int, salt: int, s3: SeaweedFS | None = None) -> dict[str, Any]:
    """Sweep `count` blobs from a filesystem layout, or from a SeaweedFS bucket."""
    from harbor_gc import collector
    from harbor_gc.storage import FilesystemStorage, Storage
    from jobs.models import Execution, Task
    from jobs.runner import JobContext

    root = Path(tempfile.mkdtemp(prefix="bench-gc-sweep-"))
    try:
        started = time.perf_counter()
        storage: Storage
        if s3 is None:
            digests = _layout(root, count, salt)
            storage = FilesystemStorage(root)
        else:
            bucket = s3.new_bucket("bench-gc")
            digests = _s3_layout(s3, bucket, count, salt)
            storage = s3.storage(bucket)
        _copy(
            "blob",
            ["digest", "content_type", "size", "status", "version", "creation_time", "update_time"],
            ((d, "", "64", "delete", "1", OLD, OLD) for d in digests),
        )
        _execute("ANALYZE blob")
        prepared = time.perf_counter() - started
        execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION")
        context = JobContext(Task.objects.create(execution=execution).pk, execution.pk, {})
        results = collector.Results()
        started = time.perf_counter()
        collector.sweep(context, storage, workers, results)
        seconds = time.perf_counter() - started
        assert results.blobs_deleted == count and not results.failed, results
        assert not any(True for _ in storage.blobs()), "blobs left in storage"
        execution.delete()
        return {
            "storage": "filesystem" if s3 is None else "s3 (SeaweedFS)",
            "blobs": count,
            "workers": workers,
            "prepare_seconds": round(prepared, 1),
            "sweep_seconds": round(seconds, 2),
            "blobs_per_second": round(count / seconds),
            "freed_bytes": results.freed_bytes,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--blobs", type=int, default=1_000_000, help="blob rows for the mark")
    parser.add_argument("--sweep", type=int, default=100_000, help="blobs for each sweep")
    parser.add_argument(
        "--s3-sweep", type=int, default=5_000, help="blobs for each sweep on SeaweedFS's S3"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    try:
        _setup_django(data_dir)
        print(f"database {DATABASE} on {PG_DSN.rsplit('/', 1)[0]}", flush=True)
        mark = bench_mark(args.blobs)
        print(
            f"mark:  {mark['blob_rows']:,} blob rows, {mark['marked']:,} marked in"
            f" {mark['mark_seconds']} s = {mark['rows_per_second']:,} rows/s"
            f" ({mark['marked_per_second']:,} marked/s); dry-run count"
            f" {mark['dry_run_count_seconds']} s",
            flush=True,
        )
        _execute("TRUNCATE artifact_blob, blob")
        sweeps = []
        with running_seaweedfs(data_dir / "seaweedfs") as store:
            runs = [(args.sweep, w, None) for w in (1, 5)]
            runs += [(args.s3_sweep, w, store) for w in (1, 5)]
            for salt, (count, workers, s3) in enumerate(runs, start=2):
                sweep = bench_sweep(count, workers, salt, s3)
                sweeps.append(sweep)
                print(
                    f"sweep: {sweep['storage']}, {sweep['blobs']:,} blobs, workers={workers}:"
                    f" {sweep['sweep_seconds']} s = {sweep['blobs_per_second']:,} blobs/s"
                    f" ({sweep['blobs_per_second'] * 60:,} per minute)",
                    flush=True,
                )
        results = {"mark": mark, "sweep": sweeps}
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DATABASE)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
