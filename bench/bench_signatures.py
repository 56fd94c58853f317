"""Pull latency with the trusted-key policy on and off (#23).

    .venv/bin/python -m bench.bench_signatures                 # ~1 min on a 2-core box
    .venv/bin/python -m bench.bench_signatures --requests 100  # a quick look

Starts tests.stack.Instance and two projects holding the same kind of tiny image, each with
a cosign signature (tag scheme) by one key: `trust-on` has content trust on
(`enable_content_trust_cosign`) and trusts the key, so every manifest GET passes the
signature check at the gate; `trust-off` has the policy off. Manifest GETs of the two are
interleaved in rounds (ABBA), one request at a time on one keep-alive connection each, so
that load on the machine falls on both alike. The gate's verdict is cached per artifact
and key set, in each gunicorn process, under the project's content-trust generation that
the pull reads with the project row anyway: after the first pull, a pull with the policy
on costs one lookup in the process's memory more (no query, no round trip).

Prints the median and p95 wall time per GET of each, their ratio (goal: on/off medians
within 1.15, i.e. within noise on a shared machine), and the gunicorn CPU per GET of each.
JSON in data/bench/signatures.json (--out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

from bench.bench import Topology, process_table
from bench.bench_requests import Client, on_new_instance, publish
from tests import signing
from tests.stack import REPO_ROOT

GOAL = 1.15
MODES = ("on", "off")


def _prepare(
    topo: Topology, client: Client, key: signing.PrivateKey
) -> dict[str, tuple[str, dict]]:
    """Per mode: (repository, pull auth)."""
    instance = topo.instance
    assert instance is not None
    prepared = {}
    for mode in MODES:
        project = f"trust-{mode}"
        instance.create_project(project, public=False)
        repository = f"{project}/tiny"
        auth = client.token(repository)
        body = client.image(repository, auth)
        client.put_manifest(repository, "v1", body, auth)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        doc, blobs = signing.cosign_signature(key, digest)
        for blob in blobs:
            client.upload(repository, blob.data, auth)
        client.put_manifest(
            repository, digest.replace(":", "-") + ".sig", json.dumps(doc).encode(), auth
        )
        if mode == "on":
            with instance.client() as api:
                api.post(
                    f"/api/v2.0/projects/{project}/metadatas/",
                    json={"enable_content_trust_cosign": "true"},
                ).raise_for_status()
                api.post(
                    f"/api/v2.0/projects/{project}/trusted-keys",
                    json={"name": "ci", "public_key": signing.public_pem(key)},
                ).raise_for_status()
        prepared[mode] = (repository, auth)
    return prepared


def _web_cpu(topo: Topology) -> float:
    """CPU seconds of the web server so far, granian (the default) or gunicorn: the figures
    keep gunicorn's name, from before granian served."""
    usage = topo.cpu_by_component(process_table())
    return usage.get("granian", 0.0) + usage.get("gunicorn", 0.0)


def run(topo: Topology, args: argparse.Namespace) -> dict:
    clients = {mode: Client(topo.url) for mode in MODES}
    key = signing.ec_key()
    prepared = _prepare(topo, clients["on"], key)
    for mode in MODES:  # the first pull computes and caches the verdict
        repository, auth = prepared[mode]
        for _ in range(args.warmup):
            clients[mode].get_manifest(repository, "v1", auth)
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    round_medians: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu = {mode: 0.0 for mode in MODES}
    per_round = max(args.requests // args.rounds, 1)
    for round_number in range(args.rounds):
        order = MODES if round_number % 2 == 0 else MODES[::-1]
        for mode in order:
            repository, auth = prepared[mode]
            before = _web_cpu(topo)
            this_round = []
            for _ in range(per_round):
                started = time.perf_counter()
                clients[mode].get_manifest(repository, "v1", auth)
                this_round.append((time.perf_counter() - started) * 1000)
            walls[mode].extend(this_round)
            round_medians[mode].append(statistics.median(this_round))
            cpu[mode] += _web_cpu(topo) - before
    for client in clients.values():
        client.close()
    results: dict = {}
    for mode in MODES:
        values = sorted(walls[mode])
        results[mode] = {
            "median_ms": statistics.median(values),
            "p95_ms": values[int(len(values) * 0.95) - 1],
            "gunicorn_cpu_ms": cpu[mode] * 1000 / len(values),
            "requests": len(values),
            "round_medians_ms": round_medians[mode],
        }
    results["ratio"] = results["on"]["median_ms"] / results["off"]["median_ms"]
    # each round's on/off pair ran back to back: the median of their ratios
    results["round_ratios"] = [
        on / off for on, off in zip(round_medians["on"], round_medians["off"], strict=True)
    ]
    results["median_round_ratio"] = statistics.median(results["round_ratios"])
    results["cpu_ratio"] = results["on"]["gunicorn_cpu_ms"] / max(
        results["off"]["gunicorn_cpu_ms"], 1e-9
    )
    return results


def report(results: dict) -> str:
    lines = [
        "manifest GET of a tiny signed image, trusted-key policy on vs off (interleaved)",
        f"{'policy':<8}{'median ms':>11}{'p95 ms':>9}{'gunicorn CPU ms':>17}{'requests':>10}",
    ]
    for mode in MODES:
        r = results[mode]
        lines.append(
            f"{mode:<8}{r['median_ms']:>11.2f}{r['p95_ms']:>9.2f}"
            f"{r['gunicorn_cpu_ms']:>17.2f}{r['requests']:>10}"
        )
    lines.append(
        f"on/off: median {results['ratio']:.3f} (goal <= {GOAL}), "
        f"gunicorn CPU {results['cpu_ratio']:.3f}"
    )
    ratios = " ".join(f"{r:.2f}" for r in results["round_ratios"])
    lines.append(
        f"per round (interleaved ABBA) on/off of the medians: {ratios}; "
        f"median {results['median_round_ratio']:.3f}"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=600, help="GETs per mode (600)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (6)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted GETs first (20)")
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "data" / "bench" / "signatures.json"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = on_new_instance("harbor-bench-signatures-", lambda topo: run(topo, args))
    publish(report(results), results, args.out)
    return 0 if results["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
