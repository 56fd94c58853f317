"""Online GC under load: pushes, tag moves and deletions go on while GC runs again and again
with a zero time window. No image whose push succeeded may lose a byte, and after a last GC
nothing unreferenced is left in storage.

STRESS_SECONDS (default 75) bounds the loaded phase.

Deletions through the API can fail (500) in races outside GC, which this test counts and
reports but does not fail on: distribution 2.8 writes a tag's current/link non-atomically,
so a manifest DELETE that looks up tags while a push writes one reads an empty link
("invalid checksum digest format"); and a deletion racing the batched image-config reader
(which adds the artifact's build history) fails its deferred foreign-key check. Both leave
the manifest deleted from storage and the rows in place, so an image whose deletion failed
that way is not expected to pull.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from harbor_gc.storage import FilesystemStorage
from tests.e2e import transfer
from tests.e2e.gc_support import GcRuns, run_all
from tests.imagegen import ImageLayout, make_image, random_layer
from tests.stack import PG_DSN, Instance, running_instance

PROJECT = "stress"
REPOS = [f"{PROJECT}/app{i}" for i in range(3)]
TAGS = [f"t{i}" for i in range(4)]
PUSHERS = 4


@dataclass
class Push:
    repository: str
    tag: str
    layout: ImageLayout
    ok: bool
    started: float
    seconds: float
    error: str = ""


@dataclass
class FailedDelete:
    repository: str
    digest: str
    ended: float
    error: str


class Images:
    """Images sharing base layers: two of eight shared layers (one of them 1 MiB, to widen
    the windows GC can hit during an upload) plus one layer of their own. New ones are made
    during the run, so that deleted ones leave garbage behind; old ones are pushed again,
    so that layers GC deleted are uploaded again."""

    def __init__(self, base: Path, initial: int) -> None:
        self.base = base
        sizes = (1024 * 1024, 256 * 1024, 64 * 1024, 64 * 1024, 16 * 1024, 16 * 1024, 4096, 4096)
        self.bases = [random_layer(size) for size in sizes]
        self.layouts: list[ImageLayout] = []
        self.lock = threading.Lock()
        for _ in range(initial):
            self.new(random.Random())

    def new(self, rng: random.Random) -> ImageLayout:
        with self.lock:
            path = self.base / f"img{len(self.layouts)}"
            path.mkdir(parents=True)
            self.layouts.append(ImageLayout(path, "", ""))  # reserve the slot
            slot = len(self.layouts) - 1
        layers = [*rng.sample(self.bases, 2), random_layer(rng.choice([2048, 32 * 1024]))]
        layout = make_image(path, layers=layers, tag="latest")
        with self.lock:
            self.layouts[slot] = layout
        return layout

    def old(self, rng: random.Random) -> ImageLayout:
        with self.lock:
            ready = [layout for layout in self.layouts if layout.manifest_digest]
        return rng.choice(ready)


def _failure_kind(stderr: str) -> str:
    text = stderr.lower()
    if "upload it again" in text:
        return "blob being deleted (guard)"
    if "blob unknown" in text:
        return "blob unknown (swept before the manifest)"
    for kind in ("manifest unknown", "manifest invalid", "unauthorized"):
        if kind in text:
            return kind
    match = re.search(r"(status|code)[^0-9]{0,20}(\d{3})", text)
    return f"http {match.group(2)}" if match else "other"


class Stress:
    def __init__(self, instance: Instance, images: Images, seconds: float) -> None:
        self.instance = instance
        self.images = images
        self.deadline = time.monotonic() + seconds
        self.pushes: list[Push] = []
        self.deletions = 0
        self.delete_errors: list[FailedDelete] = []
        self.errors: list[str] = []
        self.gc = GcRuns(self.errors, {"delete_untagged": False, "workers": 3}, timeout=120)
        self.lock = threading.Lock()

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def pusher(self, seed: int) -> None:
        rng = random.Random(seed)
        while self.running():
            layout = self.images.new(rng) if rng.random() < 0.4 else self.images.old(rng)
            repository, tag = rng.choice(REPOS), rng.choice(TAGS)
            started = time.monotonic()
            result = transfer.push(self.instance.host, layout, f"{repository}:{tag}", timeout=300)
            push = Push(
                repository,
                tag,
                layout,
                result.returncode == 0,
                started,
                time.monotonic() - started,
                result.stderr.strip()[-600:],
            )
            with self.lock:
                self.pushes.append(push)

    def deleter(self, seed: int) -> None:
        """Deletes an artifact now and then, so its blobs become garbage while others push
        images sharing them."""
        rng = random.Random(seed)
        with self.instance.client() as api:
            while self.running():
                time.sleep(rng.uniform(0.1, 0.5))
                repository = rng.choice(REPOS).split("/", 1)[1]
                base = f"/api/v2.0/projects/{PROJECT}/repositories/{repository}/artifacts"
                listing = api.get(base, params={"page_size": 100})
                if listing.status_code != 200 or not listing.json():
                    continue
                digest = rng.choice(listing.json())["digest"]
                response = api.delete(f"{base}/{digest}")
                if response.status_code == 200:
                    with self.lock:
                        self.deletions += 1
                elif response.status_code == 500:
                    # Known races outside GC (see the module docstring); the manifest may be
                    # gone from storage while the rows stay. Counted and reported.
                    failure = FailedDelete(
                        f"{PROJECT}/{repository}", digest, time.monotonic(), response.text[:200]
                    )
                    with self.lock:
                        self.delete_errors.append(failure)
                elif response.status_code not in (404, 412):
                    self.errors.append(f"delete {digest}: {response.status_code} {response.text}")

    def collector(self) -> None:
        with self.instance.client() as api:
            while self.running():
                if self.run_gc(api) is None:
                    time.sleep(0.2)

    def run_gc(self, api) -> dict | None:
        """One manual GC through the API, waited for; None when one was already running."""
        return self.gc.run(api)


def _summary(stress: Stress) -> dict:
    failed = [p for p in stress.pushes if not p.ok]
    return {
        "pushes": len(stress.pushes),
        "succeeded": len(stress.pushes) - len(failed),
        "failed": len(failed),
        "failures_by_kind": dict(Counter(_failure_kind(p.error) for p in failed)),
        "deletions": stress.deletions,
        "delete_errors": [f"{d.digest}: {d.error}" for d in stress.delete_errors[:3]],
        "gc_runs": len(stress.gc.runs),
        "gc_conflicts_409": stress.gc.conflicts,
        "blobs_swept_during_load": sum(run.get("purged_blobs", 0) for run in stress.gc.runs),
        "errors": stress.errors[:3],
        "first_failures": [f"{p.repository}:{p.tag}: {p.error[-300:]}" for p in failed[:3]],
    }


def _database_view(instance: Instance) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """(repository, tag) -> digest, and every (repository, digest), as the API shows them."""
    tags: dict[tuple[str, str], str] = {}
    present: set[tuple[str, str]] = set()
    with instance.client() as api:
        for repository in REPOS:
            name = repository.split("/", 1)[1]
            page = 1
            while True:
                response = api.get(
                    f"/api/v2.0/projects/{PROJECT}/repositories/{name}/artifacts",
                    params={"page": page, "page_size": 100, "with_tag": "true"},
                )
                if response.status_code == 404:
                    break
                response.raise_for_status()
                for artifact in response.json():
                    present.add((repository, artifact["digest"]))
                    for tag in artifact.get("tags") or []:
                        tags[(repository, tag["name"])] = artifact["digest"]
                if len(response.json()) < 100:
                    break
                page += 1
    return tags, present


def _pull_back(instance: Instance, push: Push, target: Path) -> str | None:
    """None when the image pulls back bit-identically, else what went wrong."""
    target.parent.mkdir(exist_ok=True)
    reference = f"{push.repository}@{push.layout.manifest_digest}"
    return transfer.pulls_back(instance.host, reference, push.layout.path, target)


def _query(instance: Instance, sql: str) -> list[tuple]:
    conn = psycopg.connect(PG_DSN.rsplit("/", 1)[0] + f"/{instance.db_name}")
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        conn.close()


def test_gc_under_load_never_loses_a_pushed_image(tmp_path: Path) -> None:
    seconds = float(os.environ.get("STRESS_SECONDS", "75"))
    images = Images(tmp_path / "images", 10)
    env = {"GC_TIME_WINDOW_HOURS": "0"}
    with running_instance(tmp_path / "instance", extra_env=env) as instance:
        instance.create_project(PROJECT)
        stress = Stress(instance, images, seconds)
        threads = [threading.Thread(target=stress.pusher, args=(i,)) for i in range(PUSHERS)]
        threads += [threading.Thread(target=stress.deleter, args=(100 + i,)) for i in range(2)]
        threads.append(threading.Thread(target=stress.collector))
        run_all(threads, seconds + 600)
        print("\nload phase:", json.dumps(_summary(stress)))

        # Every image whose push succeeded and whose tag still points at it pulls back
        # bit-identically.
        tags, present = _database_view(instance)
        checked: set[tuple[str, str]] = set()
        lost = []

        def deletion_failed_after(push: Push) -> bool:
            key = (push.repository, push.layout.manifest_digest)
            return any(
                (d.repository, d.digest) == key and d.ended >= push.started
                for d in stress.delete_errors
            )

        for push in stress.pushes:
            key = (push.repository, push.layout.manifest_digest)
            if not push.ok or key in checked or deletion_failed_after(push):
                continue
            if tags.get((push.repository, push.tag)) != push.layout.manifest_digest:
                continue
            checked.add(key)
            if problem := _pull_back(instance, push, tmp_path / "pulled" / str(len(checked))):
                lost.append(f"{key}: {problem}")
        # Beyond the requirement: a sample of the untagged survivors pulls back by digest.
        survivors = {}
        for push in stress.pushes:
            key = (push.repository, push.layout.manifest_digest)
            if push.ok and key in present and key not in checked:
                survivors[key] = push  # the latest
        survivors = {k: p for k, p in survivors.items() if not deletion_failed_after(p)}
        for key, push in random.Random(1).sample(
            sorted(survivors.items()), min(30, len(survivors))
        ):
            checked.add(key)
            if problem := _pull_back(instance, push, tmp_path / "pulled" / str(len(checked))):
                lost.append(f"{key}: {problem}")
        assert not lost, f"pushed images lost: {lost}"

        # Nothing referenced is missing from storage, and after a last GC nothing
        # unreferenced is left.
        storage = FilesystemStorage(instance.data_dir / "registry")
        referenced = {
            digest
            for (digest,) in _query(
                instance,
                "SELECT DISTINCT b.digest FROM blob b JOIN artifact_blob ab ON ab.blob_id = b.id",
            )
        }
        missing = {d for d in referenced if not storage.has_blob(d)}
        assert not missing, f"blobs referenced in the database but gone from storage: {missing}"
        with instance.client() as api:
            final = stress.run_gc(api)
            while final is None:  # the collector thread's last run may still be going
                time.sleep(0.5)
                final = stress.run_gc(api)
        stored = {blob.digest for blob in storage.blobs()}
        leaked = sorted(stored - referenced)
        assert stored == referenced, {
            "leaked": leaked,
            "missing": sorted(referenced - stored),
            "final_gc": final,
            "leaked_rows": _query(
                instance,
                "SELECT digest, status, version, update_time FROM blob WHERE digest IN ("
                + ", ".join(f"'{d}'" for d in leaked[:20])
                + ")",
            )
            if leaked
            else [],
            "errors": stress.errors[:3],
        }
        left = _query(
            instance,
            "SELECT digest, status FROM blob b WHERE NOT EXISTS"
            " (SELECT 1 FROM artifact_blob ab WHERE ab.blob_id = b.id)",
        )
        assert not left, f"unreferenced blob rows after the last GC: {left}"

    ok = [p for p in stress.pushes if p.ok]
    failed = [p for p in stress.pushes if not p.ok]
    kinds = Counter(_failure_kind(p.error) for p in failed)
    swept = sum(run.get("purged_blobs", 0) for run in stress.gc.runs)
    report = {
        "seconds": seconds,
        "pushes": len(stress.pushes),
        "succeeded": len(ok),
        "failed": len(failed),
        "failures_by_kind": dict(kinds),
        "deletions": stress.deletions,
        "delete_errors_500": len(stress.delete_errors),
        "gc_runs": len(stress.gc.runs),
        "gc_conflicts_409": stress.gc.conflicts,
        "blobs_swept_during_load": swept,
        "images_pulled_back": len(checked),
        "blobs_in_storage_at_end": len(stored),
        "final_gc": final,
        "mean_push_seconds": round(sum(p.seconds for p in stress.pushes) / len(stress.pushes), 2),
    }
    print("\nGC stress report:", json.dumps(report, indent=2))
    for push in failed[:5]:
        print(f"  failed push {push.repository}:{push.tag}: {push.error[-300:]}")
    (tmp_path / "report.json").write_text(json.dumps(report, indent=2))
    assert not stress.errors, stress.errors
    assert len(stress.gc.runs) >= 3, "GC ran too rarely to stress anything"
    assert swept > 0 and stress.deletions > 0, "no garbage was collected during the load"
    assert len(ok) >= 20 and checked, "too few pushes succeeded to check anything"
    assert len(failed) < len(ok), f"push failures are not a minority: {report}"


pytestmark = pytest.mark.e2e
