"""Replication benchmark: push-based replication of N images between two instances,
against `skopeo sync` of the same images between the same instances.

    .venv/bin/python -m bench.bench_replication                 # 10 images of ~2.5 MiB
    .venv/bin/python -m bench.bench_replication --images 20 --layers 4194304,524288,10240
    .venv/bin/python -m bench.bench_replication --redis-url redis://127.0.0.1:6379
    .venv/bin/python -m bench.bench_replication --images 0 --noop-artifacts 1000

Two instances are started (tests.stack); N images with random layers are pushed to the
first with skopeo. Timed: (1) a manual run of a push-based policy on the first instance
into a new project of the second (wall time from POST /replication/executions to the
execution's end), (2) `skopeo sync` from the first into another new project of the
second. Both copy every byte (the destination projects start empty). --redis-url gives
each instance a database of that Redis instead of a private redis-server.

Then the no-op re-run (--noop-artifacts, default 1,000, 0 skips it): that many small
artifacts (10 repositories, one tag each, sharing their blobs) are pushed to the first
instance over /v2 and replicated once; timed is a second run, where everything is
already at the destination.

Results on stdout, and as JSON with --out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, make_image
from tests.stack import ADMIN_PASSWORD, Instance, reset_skopeo_cache, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def _push_images(instance: Instance, work: Path, count: int, layers: list[int]) -> int:
    instance.create_project("bench")
    total = 0
    for i in range(count):
        image = make_image(work / f"img{i}", layer_sizes=layers)
        total += sum(p.stat().st_size for p in (image.path / "blobs" / "sha256").iterdir())
        skopeo("copy", image.ref, f"docker://{instance.host}/bench/img{i}:v1", creds=ADMIN)
    return total


def _endpoint(source: Instance, destination: Instance) -> int:
    with source.client() as api:
        found = api.get("/api/v2.0/registries", params={"name": "bench-destination"}).json()
        if found:
            return int(found[0]["id"])
        response = api.post(
            "/api/v2.0/registries",
            json={
                "name": "bench-destination",
                "type": "harbor",
                "url": destination.url,
                "credential": {
                    "type": "basic",
                    "access_key": "admin",
                    "access_secret": ADMIN_PASSWORD,
                },
            },
        )
        response.raise_for_status()
        return int(response.headers["Location"].rsplit("/", 1)[1])


def _policy(source: Instance, destination: Instance, name: str, project: str) -> int:
    with source.client() as api:
        response = api.post(
            "/api/v2.0/replication/policies",
            json={
                "name": name,
                "dest_registry": {"id": _endpoint(source, destination)},
                "dest_namespace": "replicated",
                "dest_namespace_replace_count": 1,
                "filters": [{"type": "name", "value": f"{project}/**"}],
            },
        )
        response.raise_for_status()
        return int(response.headers["Location"].rsplit("/", 1)[1])


def _execute(source: Instance, policy_id: int) -> tuple[float, dict[str, Any]]:
    """Start a run and wait for its end: (seconds, the execution)."""
    with source.client() as api:
        started = time.perf_counter()
        response = api.post("/api/v2.0/replication/executions", json={"policy_id": policy_id})
        response.raise_for_status()
        location = response.headers["Location"]
        while True:
            execution = api.get(location).json()
            if execution["status"] != "InProgress":
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        tasks = api.get(f"{location}/tasks", params={"page_size": 100}).json()
    execution["timeline"] = _timeline(execution, tasks)
    if execution["status"] != "Succeed":
        raise RuntimeError(f"replication did not succeed: {execution}")
    return elapsed, execution


def _replicate(source: Instance, destination: Instance) -> tuple[float, dict[str, Any]]:
    return _execute(source, _policy(source, destination, "bench", "bench"))


def _push_small_artifacts(instance: Instance, count: int, repositories: int = 10) -> None:
    """`count` artifacts over /v2: one config and one layer shared by all, a manifest each
    (an annotation makes every digest different), spread over `repositories`."""
    instance.create_project("noop")
    names = [f"noop/r{i}" for i in range(repositories)]
    token = instance.token([f"repository:{n}:pull,push" for n in names], auth=ADMIN)["token"]
    blobs = {"config": b'{"architecture":"amd64","os":"linux"}', "layer": os.urandom(512)}
    with httpx.Client(
        base_url=instance.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as v2:
        descriptors = {}
        for name in names:
            for key, data in blobs.items():
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                started = v2.post(f"/v2/{name}/blobs/uploads/")
                started.raise_for_status()
                location = httpx.URL(started.headers["Location"])
                v2.put(
                    str(location.copy_merge_params({"digest": digest})), content=data
                ).raise_for_status()
                descriptors[key] = {"digest": digest, "size": len(data)}
        for i in range(count):
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **descriptors["config"]},
                "layers": [{"mediaType": OCI_LAYER_GZIP, **descriptors["layer"]}],
                "annotations": {"bench.n": str(i)},
            }
            response = v2.put(
                f"/v2/{names[i % repositories]}/manifests/t{i}",
                content=json.dumps(manifest).encode(),
                headers={"Content-Type": OCI_MANIFEST},
            )
            response.raise_for_status()


def _noop_rerun(source: Instance, destination: Instance, count: int) -> dict[str, Any]:
    started = time.perf_counter()
    _push_small_artifacts(source, count)
    pushed = time.perf_counter() - started
    policy = _policy(source, destination, "bench-noop", "noop")
    first_seconds, _ = _execute(source, policy)
    rerun_seconds, rerun = _execute(source, policy)
    assert rerun["succeed"] == count, rerun
    return {
        "artifacts": count,
        "push_seconds": round(pushed, 2),
        "first_run_seconds": round(first_seconds, 2),
        "noop_rerun_seconds": round(rerun_seconds, 2),
        "noop_rerun_timeline": rerun["timeline"],
    }


def _timeline(execution: dict[str, Any], tasks: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds from the execution's start to its first task's start and last task's end."""

    def at(value: str) -> float:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    begin = at(execution["start_time"])
    return {
        "first_task_start": round(min(at(t["start_time"]) for t in tasks) - begin, 3),
        "last_task_end": round(max(at(t["end_time"]) for t in tasks) - begin, 3),
        "execution_end": round(at(execution["end_time"]) - begin, 3),
        "mean_task_seconds": round(
            sum(at(t["end_time"]) - at(t["start_time"]) for t in tasks) / len(tasks), 3
        ),
    }


def _skopeo_sync(source: Instance, destination: Instance, work: Path, count: int) -> float:
    destination.create_project("synced")
    config = {
        source.host: {
            "tls-verify": False,
            "credentials": {"username": "admin", "password": ADMIN_PASSWORD},
            "images": {f"bench/img{i}": [] for i in range(count)},
        }
    }
    path = work / "sync.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    reset_skopeo_cache()
    started = time.perf_counter()
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "sync",
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            f"--dest-creds=admin:{ADMIN_PASSWORD}",
            str(path),
            f"{destination.host}/synced",
        ],
        check=True,
        capture_output=True,
        env={"REGISTRY_AUTH_FILE": "/nonexistent/auth.json", "PATH": "/usr/bin:/bin"},
        timeout=3600,
    )
    return time.perf_counter() - started


def run(count: int, layers: list[int], redis_url: str = "", noop: int = 1000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-repl-") as tmp:
        work = Path(tmp)

        def extra(db: int) -> dict[str, str]:
            return {"REDIS_URL": f"{redis_url.rstrip('/')}/{db}"} if redis_url else {}

        with (
            running_instance(work / "a", extra_env=extra(12)) as first,
            running_instance(work / "b", extra_env=extra(13)) as second,
        ):
            for instance in (first, second):  # warm both credential caches (PBKDF2)
                instance.token([], auth=ADMIN)
            results = _throughput(first, second, work, count, layers) if count else {}
            if noop:
                results["noop"] = _noop_rerun(first, second, noop)
    return results


def _throughput(
    first: Instance, second: Instance, work: Path, count: int, layers: list[int]
) -> dict[str, Any]:
    total_bytes = _push_images(first, work, count, layers)
    replication_seconds, execution = _replicate(first, second)
    sync_seconds = _skopeo_sync(first, second, work, count)
    mib = total_bytes / (1 << 20)
    return {
        "images": count,
        "layer_sizes": layers,
        "bytes": total_bytes,
        "replication_seconds": round(replication_seconds, 2),
        "replication_mib_per_second": round(mib / replication_seconds, 1),
        "skopeo_sync_seconds": round(sync_seconds, 2),
        "skopeo_sync_mib_per_second": round(mib / sync_seconds, 1),
        "execution": execution,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=10, help="0 skips the throughput part")
    parser.add_argument("--layers", default="2097152,524288,10240", help="bytes, comma-separated")
    parser.add_argument("--redis-url", default="", help="e.g. redis://127.0.0.1:6379")
    parser.add_argument("--noop-artifacts", type=int, default=1000, help="0 skips it")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    layers = [int(size) for size in args.layers.split(",")]
    results = run(args.images, layers, args.redis_url, args.noop_artifacts)
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
