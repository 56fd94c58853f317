"""The delete storm of issue #19: a push that answered success is never lost.

Several pushers, each in a repository of its own, push tags drawn from a small pool of
images (so digests repeat across tags and repositories), move tags, delete tags through the
API, delete artifacts through the API and through `/v2` (skopeo delete), and push images
again after untagging them, while GC runs back to back with a zero time window and
`delete_untagged` on. Each pusher is its repository's only writer (GC aside) and keeps its
own record of what succeeded and what it deleted. Afterwards:

- every tag its record holds pulls back bit-identically (manifest and every blob);
- the repository holds exactly the recorded tags: nothing deleted comes back;
- a digest deleted and not pushed again since is gone;
- after a last GC, `registry_fsck` reports no drift in either direction.

STORM_SECONDS (default 75) bounds the loaded phase; run it for minutes locally with e.g.
STORM_SECONDS=600. STORM_DATABASE=sqlite runs it on the embedded default's SQLite.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.gc_support import GcRuns, run_all
from tests.e2e.transfer import ADMIN, pulls_back, push
from tests.imagegen import ImageLayout, make_image, random_layer
from tests.stack import Instance, running_instance, skopeo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROJECT = "storm"
PUSHERS = 4
POOL = 6  # images shared by every pusher
TAGS = [f"t{i}" for i in range(5)]


def _pool(base: Path) -> list[ImageLayout]:
    """Images sharing layers, so that blobs repeat across images as digests repeat across
    tags."""
    shared = [random_layer(size) for size in (256 * 1024, 32 * 1024, 4096)]
    rng = random.Random(19)
    return [
        make_image(
            base / f"img{i}", layers=[*rng.sample(shared, 2), random_layer(2048)], tag="latest"
        )
        for i in range(POOL)
    ]


@dataclass
class Pusher:
    """One pusher's view of its repository, kept from what the registry answered."""

    index: int
    repository: str
    tags: dict[str, ImageLayout] = field(default_factory=dict)  # tag -> image it points at
    uncertain: set[str] = field(default_factory=set)  # tags a failed operation may have left
    deleted: dict[str, float] = field(default_factory=dict)  # digest -> when it was deleted
    pushed: dict[str, float] = field(default_factory=dict)  # digest -> last successful push
    counts: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)


class Storm:
    def __init__(self, instance: Instance, pool: list[ImageLayout], seconds: float) -> None:
        self.instance = instance
        self.pool = pool
        self.deadline = time.monotonic() + seconds
        self.errors: list[str] = []
        self.gc = GcRuns(self.errors, {"delete_untagged": True, "workers": 2})
        self.pushers = [Pusher(i, f"{PROJECT}/p{i}") for i in range(PUSHERS)]

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def _artifacts_url(self, pusher: Pusher, suffix: str = "") -> str:
        name = pusher.repository.split("/", 1)[1]
        return f"/api/v2.0/projects/{PROJECT}/repositories/{name}/artifacts{suffix}"

    def push(self, pusher: Pusher, rng: random.Random) -> None:
        image, tag = rng.choice(self.pool), rng.choice(TAGS)
        result = push(self.instance.host, image, f"{pusher.repository}:{tag}", timeout=300)
        if result.returncode == 0:
            pusher.tags[tag] = image
            pusher.uncertain.discard(tag)
            pusher.pushed[image.manifest_digest] = time.monotonic()
            pusher.counts["pushed"] += 1
        else:
            pusher.uncertain.add(tag)
            pusher.failures[_kind(result.stderr)] += 1

    def untag(self, pusher: Pusher, api: httpx.Client, rng: random.Random) -> None:
        if not pusher.tags:
            return
        tag = rng.choice(sorted(pusher.tags))
        digest = pusher.tags[tag].manifest_digest
        response = api.delete(self._artifacts_url(pusher, f"/{digest}/tags/{tag}"))
        if response.status_code == 200:
            del pusher.tags[tag]
            pusher.counts["tags deleted"] += 1
        else:
            self.errors.append(f"tag delete {pusher.repository}:{tag}: {response.text}")

    def delete_artifact(self, pusher: Pusher, api: httpx.Client, rng: random.Random) -> None:
        """Through the API or, every other time, through /v2 (skopeo delete by digest)."""
        if not pusher.tags:
            return
        digest = pusher.tags[rng.choice(sorted(pusher.tags))].manifest_digest
        if rng.random() < 0.5:
            response = api.delete(self._artifacts_url(pusher, f"/{digest}"))
            ok, how = response.status_code == 200, "api"
            problem = f"{response.status_code} {response.text}"
        else:
            result = skopeo(
                "delete",
                f"docker://{self.instance.host}/{pusher.repository}@{digest}",
                creds=ADMIN,
                check=False,
            )
            ok, how, problem = result.returncode == 0, "v2", result.stderr[-300:]
        if not ok:
            self.errors.append(f"{how} delete {pusher.repository}@{digest}: {problem}")
            return
        for tag in [t for t, image in pusher.tags.items() if image.manifest_digest == digest]:
            del pusher.tags[tag]
        pusher.deleted[digest] = time.monotonic()
        pusher.counts[f"artifacts deleted ({how})"] += 1

    def pusher(self, pusher: Pusher) -> None:
        rng = random.Random(pusher.index)
        with self.instance.client() as api:
            while self.running():
                roll = rng.random()
                if roll < 0.7:
                    self.push(pusher, rng)
                elif roll < 0.88:
                    self.untag(pusher, api, rng)
                else:
                    self.delete_artifact(pusher, api, rng)

    def collector(self) -> None:
        with self.instance.client() as api:
            while self.running():
                if self.run_gc(api) is None:
                    time.sleep(0.2)

    def run_gc(self, api: httpx.Client) -> dict | None:
        return self.gc.run(api)


def _kind(stderr: str) -> str:
    text = stderr.lower()
    for kind in ("upload it again", "blob unknown", "manifest unknown", "unavailable"):
        if kind in text:
            return kind
    return "other: " + stderr.strip()[-160:]


def _listing(instance: Instance, repository: str) -> tuple[dict[str, str], set[str]]:
    """tag -> digest and every digest of a repository, from the API."""
    name = repository.split("/", 1)[1]
    tags: dict[str, str] = {}
    digests: set[str] = set()
    with instance.client() as api:
        page = 1
        while True:
            response = api.get(
                f"/api/v2.0/projects/{PROJECT}/repositories/{name}/artifacts",
                params={"page": page, "page_size": 100, "with_tag": "true", "q": "base=*"},
            )
            if response.status_code == 404:
                return tags, digests
            response.raise_for_status()
            for artifact in response.json():
                digests.add(artifact["digest"])
                tags.update((t["name"], artifact["digest"]) for t in artifact.get("tags") or [])
            if len(response.json()) < 100:
                return tags, digests
            page += 1


def _verify(storm: Storm, instance: Instance, work: Path) -> dict:
    lost, resurrected, checked = [], [], 0
    work.mkdir(parents=True, exist_ok=True)
    for pusher in storm.pushers:
        tags, digests = _listing(instance, pusher.repository)
        for tag, image in sorted(pusher.tags.items()):
            if tag in pusher.uncertain:
                continue
            if tags.get(tag) != image.manifest_digest:
                lost.append(f"{pusher.repository}:{tag} -> {tags.get(tag)}, pushed {image}")
                continue
            checked += 1
            if problem := pulls_back(
                instance.host, f"{pusher.repository}:{tag}", image.path, work / str(checked)
            ):
                lost.append(f"{pusher.repository}:{tag}: {problem}")
        extra = set(tags) - set(pusher.tags) - pusher.uncertain
        resurrected += [f"{pusher.repository}:{tag} -> {tags[tag]}" for tag in sorted(extra)]
        for digest, when in pusher.deleted.items():
            if pusher.pushed.get(digest, 0) < when and digest in digests:
                resurrected.append(f"{pusher.repository}@{digest}")
    assert not lost, f"pushed tags lost: {lost}"
    assert not resurrected, f"deleted tags or artifacts came back: {resurrected}"
    return {"tags_pulled_back": checked}


def _audited_deletes(instance: Instance, username: str) -> int:
    with instance.client() as api:
        response = api.get(
            "/api/v2.0/audit-logs",
            params={"q": f"username={username},operation=delete", "page_size": 1},
        )
        response.raise_for_status()
        return int(response.headers["X-Total-Count"])


def _fsck(instance: Instance) -> dict:
    result = instance.manage("registry_fsck", "--json", "--grace-minutes", "0")
    return json.loads(result.stdout)


def test_delete_storm_never_loses_a_pushed_tag(tmp_path: Path) -> None:
    seconds = float(os.environ.get("STORM_SECONDS", "75"))
    database = "sqlite" if os.environ.get("STORM_DATABASE") == "sqlite" else "postgres"
    pool = _pool(tmp_path / "images")
    env = {"GC_TIME_WINDOW_HOURS": "0"}
    with running_instance(
        tmp_path / "instance",
        extra_env=env,
        database="postgres" if database == "postgres" else None,
    ) as instance:
        instance.create_project(PROJECT)
        storm = Storm(instance, pool, seconds)
        threads = [threading.Thread(target=storm.pusher, args=(p,)) for p in storm.pushers]
        threads.append(threading.Thread(target=storm.collector))
        run_all(threads, seconds + 900)

        with instance.client() as api:
            while storm.run_gc(api) is None:  # the collector's last run may still be going
                time.sleep(0.5)
        verified = _verify(storm, instance, tmp_path / "pulled")
        drift = _fsck(instance)
        gc_deleted = _audited_deletes(instance, "harbor-gc")

    counts: Counter = Counter()
    failures: Counter = Counter()
    for pusher in storm.pushers:
        counts.update(pusher.counts)
        failures.update(pusher.failures)
    report = {
        "database": database,
        "seconds": seconds,
        **dict(counts),
        "push_failures": dict(failures),
        "tags_left_unchecked_by_a_failed_push": sum(len(p.uncertain) for p in storm.pushers),
        "gc_runs": len(storm.gc.runs),
        "untagged_artifacts_deleted_by_gc": gc_deleted,
        "blobs_swept": sum(run.get("purged_blobs", 0) for run in storm.gc.runs),
        **verified,
    }
    print("\ndelete storm:", json.dumps(report, indent=2))
    assert not storm.errors, storm.errors[:5]
    assert not any(v for k, v in drift.items() if k != "repaired"), json.dumps(drift)
    assert len(storm.gc.runs) >= 3, "GC ran too rarely to race anything"
    assert counts["pushed"] >= 20 and verified["tags_pulled_back"], report
    assert sum(failures.values()) < counts["pushed"], f"push failures are not a minority: {report}"
