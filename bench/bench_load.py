"""Concurrency (issue 10): 50 concurrent pushers, then 50 concurrent pullers, each doing a
fixed number of operations against one whole instance (the embedded default on
PostgreSQL). Prints throughput, latency percentiles and the error count (the goal: zero),
and the stack's resident memory at idle and at its peak in each phase (tests.stack_memory).

    .venv/bin/python -m bench.bench_load                     # 50 x 4 pushes, 50 x 4 pulls
    .venv/bin/python -m bench.bench_load --clients 20 --each 2

Every push is a distinct image (one 32 KiB layer) into one of --repositories repositories
of a private project, by its own skopeo process with admin credentials; every pull copies a
random pushed image into a fresh oci: directory and is checked bit for bit.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.bench import percentile, settle
from tests.imagegen import ImageLayout, layout_blobs, make_image, random_layer
from tests.stack import ADMIN_PASSWORD, Instance, reset_skopeo_cache, running_instance, skopeo
from tests.stack_memory import Memory, PeakMemory, measure

ADMIN = ("admin", ADMIN_PASSWORD)
PROJECT = "load"


@dataclass
class Outcome:
    seconds: float
    error: str = ""


def _push(stack: Instance, layout: ImageLayout, reference: str) -> Outcome:
    started = time.monotonic()
    result = skopeo(
        "copy", layout.ref, f"docker://{stack.host}/{reference}", creds=ADMIN, check=False
    )
    return Outcome(time.monotonic() - started, result.stderr[-300:] if result.returncode else "")


def _pull(stack: Instance, layout: ImageLayout, reference: str, target: Path) -> Outcome:
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = skopeo(
        "copy",
        f"docker://{stack.host}/{reference}",
        f"oci:{target}:latest",
        creds=ADMIN,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode:
        return Outcome(seconds, result.stderr[-300:])
    if layout_blobs(target) != layout_blobs(layout.path):
        return Outcome(seconds, "pulled blobs differ")
    return Outcome(seconds)


def _phase(stack: Instance, name: str, jobs: list, clients: int) -> dict[str, object]:
    started = time.monotonic()
    with PeakMemory(stack) as memory, ThreadPoolExecutor(clients) as pool:
        outcomes: list[Outcome] = list(pool.map(lambda job: job(), jobs))
    wall = time.monotonic() - started
    seconds = [o.seconds for o in outcomes]
    errors = [o.error for o in outcomes if o.error]
    return {
        "phase": name,
        "operations": len(outcomes),
        "clients": clients,
        "per_second": len(outcomes) / wall,
        "p50": percentile(seconds, 0.5),
        "p95": percentile(seconds, 0.95),
        "max": max(seconds),
        "errors": len(errors),
        "first_errors": errors[:3],
        "peak_memory": memory.peak,
    }


def run(args: argparse.Namespace, base: Path) -> tuple[list[dict[str, object]], Memory]:
    count = args.clients * args.each
    print(f"making {count} images ...", flush=True)
    layouts = [
        make_image(base / "images" / str(i), layers=[random_layer(32 * 1024)]) for i in range(count)
    ]
    references = [f"{PROJECT}/app{i % args.repositories}:v{i}" for i in range(count)]
    with running_instance(base / "instance") as stack:
        stack.create_project(PROJECT)
        reset_skopeo_cache()
        settle(30)
        idle = measure(stack)
        pushes = [
            (lambda layout=layout, ref=ref: _push(stack, layout, ref))
            for layout, ref in zip(layouts, references, strict=True)
        ]
        results = [_phase(stack, "push", pushes, args.clients)]
        rng = random.Random(1)
        picks = [rng.randrange(count) for _ in range(count)]
        pulls = [
            (lambda i=i, n=n: _pull(stack, layouts[i], references[i], base / "pulled" / f"{n}-{i}"))
            for n, i in enumerate(picks)
        ]
        settle(30)
        results.append(_phase(stack, "pull", pulls, args.clients))
    return results, idle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50, help="concurrent skopeo processes")
    parser.add_argument("--each", type=int, default=4, help="operations per client and phase")
    parser.add_argument("--repositories", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        results, idle = run(args, Path(tmp))
    columns = ("ops", "clients", "ops/s", "p50 s", "p95 s", "max s", "errors")
    print(f"\n{'phase':<6}" + "".join(f" {c:>7}" for c in columns))
    for r in results:
        print(
            f"{r['phase']:<6} {r['operations']:>7} {r['clients']:>7} {r['per_second']:>7.1f}"
            f" {r['p50']:>7.2f} {r['p95']:>7.2f} {r['max']:>7.2f} {r['errors']:>7}"
        )
        for error in r["first_errors"]:
            print(f"   error: {error}")
    print("\nresident memory of the stack, MiB (PSS; shared pages counted once)")
    print(f"idle:      {idle.describe()}")
    for r in results:
        print(f"peak {r['phase']}: {r['peak_memory'].describe()}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
