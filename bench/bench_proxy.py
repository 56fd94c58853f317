"""Proxy-cache benchmark (issue #24): one instance, a bare distribution as the upstream.

    .venv/bin/python -m bench.bench_proxy                       # 4 x 64 MiB, 3 rounds
    .venv/bin/python -m bench.bench_proxy --layer-mib 16 --rounds 5 --crowd 20
    .venv/bin/python -m bench.bench_proxy --rounds 6 --crowd 0 --before-root /tmp/before

Timed with skopeo copy into a fresh OCI layout, interleaved round by round (medians):

- cold: a pull through a new proxy-cache project (so nothing is cached for its repository)
  against a pull straight from the upstream. Goal: direct / cold >= 0.9.
- warm: a second pull through the same proxy project (distribution serves the blobs; the
  tag costs one HEAD upstream) against a pull from an ordinary project holding the same
  image. Goal: normal / warm >= 0.95.
- floor: a direct pull while the same image is copied from the upstream into an ordinary
  project at the same time (skopeo, fetch + store on the same cores): what a cache that
  fetches, serves and stores every byte costs at best on this machine, whatever does it.
  `direct / floor` is the ceiling of the cold ratio.
- split (--split): where a cold pull's time goes, timed with plain HTTP clients (no
  skopeo): the manifest GET through the proxy against the upstream's; the blobs fetched in
  parallel (as skopeo does) through the proxy against the upstream, with the time to the
  first byte (the gate's decision and nginx's hops) apart from the body; the same blobs
  warm (distribution through nginx); and how long after the last byte the blobs are
  checked and linked (the staging file's hash and move, off the client's path).
- crowd: N clients pull the same uncached image at once through a new proxy project (plain
  HTTP clients, one thread each); the upstream sits behind the logging relay of
  tests/proxy_upstream.py, so the bytes fetched from it are counted. Reported: bytes
  fetched from the upstream per byte served (1/N is the ideal).

--before-root: a second instance runs another checkout's code (`git archive` of a
commit); its rounds interleave with this one's (the direct pull is shared).

Wall-clock figures on a loaded machine swing; the ratios come from interleaved rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from tests.imagegen import make_image
from tests.proxy_upstream import FaultyRelay, bare_registry, push_image
from tests.stack import ADMIN_PASSWORD, Instance, reset_skopeo_cache, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
MIB = 1024 * 1024
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def _proxy_project(instance: Instance, url: str) -> str:
    name = f"bp{uuid.uuid4().hex[:8]}"
    with instance.client() as api:
        endpoint = api.post(
            "/api/v2.0/registries",
            json={"name": f"ep-{name}", "type": "docker-registry", "url": url, "insecure": True},
        )
        endpoint.raise_for_status()
        registry_id = int(endpoint.headers["Location"].rsplit("/", 1)[1])
        created = api.post(
            "/api/v2.0/projects",
            json={
                "project_name": name,
                "registry_id": registry_id,
                "metadata": {"public": "false"},
            },
        )
        created.raise_for_status()
    return name


def _timed_pull(source: str, work: Path, creds: tuple[str, str] | None) -> float:
    dest = work / uuid.uuid4().hex
    reset_skopeo_cache()
    started = time.perf_counter()
    skopeo("copy", source, f"oci:{dest}:x", creds=creds)
    elapsed = time.perf_counter() - started
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed


def _floor(registry_host: str, instance: Instance, work: Path) -> float:
    """A direct pull and a store of the same bytes into this instance, at once."""
    reset_skopeo_cache()
    store = f"docker://{instance.host}/normal/floor{uuid.uuid4().hex[:6]}:v1"
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        pulled = pool.submit(
            skopeo, "copy", f"docker://{registry_host}/bench/big:v1", f"oci:{work / 'f'}:x"
        )
        stored = pool.submit(
            skopeo,
            "copy",
            f"docker://{registry_host}/bench/big:v1",
            store,
            creds=ADMIN,
        )
        pulled.result()
        stored.result()
    elapsed = time.perf_counter() - started
    shutil.rmtree(work / "f", ignore_errors=True)
    return elapsed


def _pull_headers(instance: Instance, repository: str) -> dict[str, str]:
    with instance.client() as api:
        token = api.get(
            "/service/token",
            params={"service": "harbor-registry", "scope": f"repository:{repository}:pull"},
        ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _fetch_all(
    base: str, repository: str, digests: list[str], headers: dict[str, str]
) -> tuple[float, float]:
    """Every blob at once, one connection each (skopeo's way): (the slowest time to the
    first byte, the time until the last byte)."""
    clients = [httpx.Client(base_url=base, headers=headers, timeout=600) for _ in digests]

    def one(client: httpx.Client, digest: str) -> float:
        with client, client.stream("GET", f"/v2/{repository}/blobs/{digest}") as blob:
            first = time.perf_counter() - started
            blob.raise_for_status()
            for _ in blob.iter_raw(MIB):
                pass
        return first

    with ThreadPoolExecutor(max_workers=len(digests)) as pool:
        started = time.perf_counter()
        ttfb = max(pool.map(one, clients, digests))
    return ttfb, time.perf_counter() - started


def _split_round(instance: Instance, registry_url: str, data_dir: Path) -> dict[str, float]:
    project = _proxy_project(instance, registry_url)
    repository = f"{project}/bench/big"
    proxy_headers = _pull_headers(instance, repository)
    accept = {"Accept": ACCEPT}
    started = time.perf_counter()
    direct_doc = httpx.get(f"{registry_url}/v2/bench/big/manifests/v1", headers=accept).json()
    direct_manifest = time.perf_counter() - started
    started = time.perf_counter()
    doc = httpx.get(
        f"{instance.url}/v2/{repository}/manifests/v1",
        headers={**proxy_headers, **accept},
        timeout=60,
    ).json()
    cold_manifest = time.perf_counter() - started
    assert doc == direct_doc
    digests = [d["digest"] for d in [doc["config"], *doc["layers"]]]
    direct_ttfb, direct_blobs = _fetch_all(registry_url, "bench/big", digests, {})
    cold_ttfb, cold_blobs = _fetch_all(instance.url, repository, digests, proxy_headers)
    landed_at = time.perf_counter()
    links = data_dir / "registry/docker/registry/v2/repositories" / repository / "_layers"
    while not all((links / "sha256" / d[7:] / "link").exists() for d in digests):
        assert time.perf_counter() - landed_at < 60, "the blobs never landed"
        time.sleep(0.01)
    landing = time.perf_counter() - landed_at
    warm_ttfb, warm_blobs = _fetch_all(instance.url, repository, digests, proxy_headers)
    # the warm manifest (the tag's HEAD upstream) against the normal project's (distribution)
    started = time.perf_counter()
    httpx.get(
        f"{instance.url}/v2/{repository}/manifests/v1", headers={**proxy_headers, **accept}
    ).raise_for_status()
    warm_manifest = time.perf_counter() - started
    normal_headers = _pull_headers(instance, "normal/big")
    started = time.perf_counter()
    httpx.get(
        f"{instance.url}/v2/normal/big/manifests/v1", headers={**normal_headers, **accept}
    ).raise_for_status()
    normal_manifest = time.perf_counter() - started
    return {
        "warm_manifest": warm_manifest,
        "normal_manifest": normal_manifest,
        "direct_manifest": direct_manifest,
        "cold_manifest": cold_manifest,
        "direct_blobs": direct_blobs,
        "direct_first_byte": direct_ttfb,
        "cold_blobs": cold_blobs,
        "cold_first_byte": cold_ttfb,
        "landing_after_last_byte": landing,
        "warm_blobs": warm_blobs,
        "warm_first_byte": warm_ttfb,
    }


def _split(instance: Instance, registry_url: str, rounds: int) -> dict[str, float]:
    taken = [_split_round(instance, registry_url, instance.data_dir) for _ in range(rounds)]
    return {k: round(statistics.median(r[k] for r in taken), 3) for k in taken[0]}


def _crowd(instance: Instance, relay: FaultyRelay, clients: int) -> dict[str, Any]:
    project = _proxy_project(instance, relay.url)
    repository = f"{project}/bench/crowd"
    headers = _pull_headers(instance, repository)

    def one(_: int) -> int:
        served = 0
        with httpx.Client(base_url=instance.url, headers=headers, timeout=600) as client:
            doc = client.get(f"/v2/{repository}/manifests/v1", headers={"Accept": ACCEPT}).json()
            for desc in [doc["config"], *doc["layers"]]:
                digest = hashlib.sha256()
                with client.stream("GET", f"/v2/{repository}/blobs/{desc['digest']}") as blob:
                    blob.raise_for_status()
                    for chunk in blob.iter_raw(MIB):
                        digest.update(chunk)
                        served += len(chunk)
                assert "sha256:" + digest.hexdigest() == desc["digest"]
        return served

    relay.clear()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        served = sum(pool.map(one, range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "bytes_served": served,
        "upstream_blob_gets": relay.count("GET", "/blobs/sha256:"),
        "bytes_fetched": relay.blob_bytes,
        "fetched_per_served": round(relay.blob_bytes / max(1, served), 4),
    }


def _ratios(base: list[float], proxied: list[float]) -> dict[str, Any]:
    each = [b / p for b, p in zip(base, proxied, strict=True)]
    return {
        "each": [round(x, 3) for x in each],
        "median": round(statistics.median(each), 3),
        "min": round(min(each), 3),
        "max": round(max(each), 3),
    }


def _round(
    instance: Instance, registry_url: str, work: Path, *, normal_first: bool
) -> tuple[float, float, float]:
    """One cold pull through a new proxy project, then the warm pull and the normal
    project's, taking turns going first: the one right after the cold pull shares the
    machine with its aftermath (the hashes, the disk writing back)."""
    project = _proxy_project(instance, registry_url)
    proxied = f"docker://{instance.host}/{project}/bench/big:v1"
    plain = f"docker://{instance.host}/normal/big:v1"
    cold = _timed_pull(proxied, work, ADMIN)
    time.sleep(1)  # the cache commits just after the last byte
    taken = {}
    for which in ("normal", "warm") if normal_first else ("warm", "normal"):
        taken[which] = _timed_pull(plain if which == "normal" else proxied, work, ADMIN)
    return cold, taken["warm"], taken["normal"]


def _figures(direct: list[float], sides: dict[str, list[tuple[float, float, float]]]) -> dict:
    results: dict[str, Any] = {"direct_seconds": [round(x, 2) for x in direct]}
    for side, taken in sides.items():
        cold, warm, normal = ([t[i] for t in taken] for i in range(3))
        results[side] = {
            "cold_proxy_seconds": [round(x, 2) for x in cold],
            "warm_proxy_seconds": [round(x, 2) for x in warm],
            "normal_project_seconds": [round(x, 2) for x in normal],
            "cold_ratio_direct_over_proxy": round(
                statistics.median(direct) / statistics.median(cold), 3
            ),
            "warm_ratio_normal_over_proxy": round(
                statistics.median(normal) / statistics.median(warm), 3
            ),
            # what the front door (nginx, the token, the gate's manifest) costs any pull:
            # the ceiling of the cold ratio, whatever the proxy cache does
            "normal_ratio_direct_over_normal": round(
                statistics.median(direct) / statistics.median(normal), 3
            ),
            # the spread: each round's own ratio (its pulls ran back to back)
            "cold_ratio_per_round": _ratios(direct, cold),
            "warm_ratio_per_round": _ratios(normal, warm),
        }
    return results


def run(
    layer_mib: int,
    layers: int,
    rounds: int,
    crowd: int,
    crowd_layer_mib: int,
    *,
    with_floor: bool = False,
    split: int = 0,
    before_root: Path | None = None,
) -> dict[str, Any]:
    """`before_root`: a checkout of other code (`git archive` of a commit), run as a second
    instance whose pulls are interleaved with this one's, round by round."""
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        registry = stack.enter_context(bare_registry(work / "upstream"))
        instances = {"this": stack.enter_context(running_instance(work / "instance"))}
        if before_root is not None:
            instances["before"] = stack.enter_context(
                running_instance(work / "before", root=before_root)
            )
        instance = instances["this"]
        image = push_image(registry, "bench/big", "v1", layer_sizes=(layer_mib * MIB,) * layers)
        # the same image in an ordinary project, for the warm comparison
        layer_bytes = [image.blobs[d["digest"]] for d in image.manifest["layers"]]
        layout = make_image(work / "layout", layers=layer_bytes)
        for each in instances.values():
            each.create_project("normal")
            skopeo("copy", layout.ref, f"docker://{each.host}/normal/big:v1", creds=ADMIN)

        direct: list[float] = []
        floor: list[float] = []
        taken: dict[str, list[tuple[float, float, float]]] = {side: [] for side in instances}
        for number in range(rounds):
            direct.append(_timed_pull(f"docker://{registry.host}/bench/big:v1", work, None))
            order = list(instances) if number % 2 == 0 else list(reversed(instances))
            for side in order:
                taken[side].append(
                    _round(instances[side], registry.url, work, normal_first=number % 2 == 0)
                )
            if with_floor:
                floor.append(_floor(registry.host, instance, work))
        results = {
            "image_bytes": sum(len(b) for b in image.blobs.values()),
            "rounds": rounds,
            **_figures(direct, taken),
        }
        if floor:
            results["floor_seconds"] = [round(x, 2) for x in floor]
            results["floor_ratio_direct_over_fetch_and_store"] = round(
                statistics.median(direct) / statistics.median(floor), 3
            )
        if split:
            results["split_medians_seconds"] = _split(instance, registry.url, split)
        if crowd:
            push_image(registry, "bench/crowd", "v1", layer_sizes=(crowd_layer_mib * MIB,) * layers)
            with FaultyRelay(registry.url) as relay:
                results["crowd"] = _crowd(instance, relay, crowd)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layer-mib", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--crowd", type=int, default=20, help="0 skips it")
    parser.add_argument("--crowd-layer-mib", type=int, default=16)
    parser.add_argument("--floor", action="store_true", help="also time fetch + store at once")
    parser.add_argument(
        "--split", type=int, default=0, help="rounds of the cold pull's breakdown (0: none)"
    )
    parser.add_argument(
        "--before-root", type=Path, help="also run this checkout's code, interleaved"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results = run(
        args.layer_mib,
        args.layers,
        args.rounds,
        args.crowd,
        args.crowd_layer_mib,
        with_floor=args.floor,
        split=args.split,
        before_root=args.before_root,
    )
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    missed = results["this"]["cold_ratio_direct_over_proxy"] < 0.9
    missed |= results["this"]["warm_ratio_normal_over_proxy"] < 0.95
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
