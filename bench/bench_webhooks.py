"""Webhooks bench (#26): what five webhook policies cost a tiny-image push, and how long an
event takes from the end of its push to the receiver.

    .venv/bin/python -m bench.bench_webhooks [--rounds 5] [--tiny 300] [--parallel 8]
                                             [--pushers 50] [--latency-pushes 100]
                                             [--worker-nice 10]

One instance (tests.stack, PostgreSQL), two projects: `quiet` without webhooks and `hooked`
with five policies (PUSH_ARTIFACT, one receiver on loopback each, Default and CloudEvents
formats). Throughput: --rounds rounds into each project, interleaved ABBA (quiet, hooked,
hooked, quiet, ...), each of --tiny new one-layer images pushed by --parallel concurrent
skopeo; printed per round with the CPU per image by component. After each round the bench
waits until the worker has sent every delivery (no outbox row, no pending WEBHOOK
execution), so that a round's deliveries do not land on the next round, and prints how long
that took and the worker's CPU per image for it (the deliveries' own cost, which on a busy
instance competes with pushes for the same cores); at the end, the worker's CPU per
delivery of the hooked rounds (during the round and after it, over the five deliveries of
an image). A round of 300 images (9-20 s at 15-33 img/s) is long enough for a steady rate,
where 30 (1-2.5 s) was not; the defaults take 3-5 minutes on the 2-core VM (the run prints
how long it took). Goal: hooked/quiet of the median images/s >= 0.95. Latency:
--latency-pushes images pushed by --pushers concurrent skopeo into `timed` (one policy, one
receiver); for each, the time from the end of its skopeo push to the receiver's arrival of
its PUSH_ARTIFACT; p50 and p95. The instance runs as deployed: its worker at the default
HARBOR_WORKER_NICE unless --worker-nice says otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from bench import bench
from bench.bench_ab import push_round, report_round
from harbor_py.processes import DEFAULT_WORKER_NICE
from tests.stack import Instance, database_url, reset_skopeo_cache, skopeo
from tests.webhook_receiver import Receiver

GOAL = 0.95
POLICIES = 5  # of `hooked`, one target each: deliveries per image


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_webhooks")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per project (5)")
    parser.add_argument("--tiny", type=int, default=300, help="images per round (300)")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent skopeo (8)")
    parser.add_argument("--pushers", type=int, default=50, help="latency: concurrent skopeo")
    parser.add_argument("--latency-pushes", type=int, default=100, help="latency: images")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=DEFAULT_WORKER_NICE,
        help=f"HARBOR_WORKER_NICE of the instance ({DEFAULT_WORKER_NICE}, the default)",
    )
    return parser.parse_args(argv)


def policy(topo: bench.Topology, project: str, name: str, url: str, payload_format: str) -> None:
    with bench.http_client(auth=bench.ADMIN) as api:
        response = api.post(
            f"{topo.url}/api/v2.0/projects/{project}/webhook/policies",
            json={
                "name": name,
                "event_types": ["PUSH_ARTIFACT"],
                "enabled": True,
                "targets": [{"type": "http", "address": url, "payload_format": payload_format}],
            },
        )
        response.raise_for_status()


UNSENT = (
    "SELECT (SELECT count(*) FROM event_outbox) + (SELECT count(*) FROM execution "
    "WHERE vendor_type IN ('WEBHOOK', 'SLACK') AND status IN ('Pending', 'Running'))"
)


def drain(topo: bench.Topology) -> tuple[float, float]:
    """Wait until every event is delivered: (seconds, the worker's CPU seconds meanwhile)."""
    assert topo.instance is not None
    before = topo.cpu_by_component(bench.process_table())
    started = time.monotonic()
    with psycopg.connect(database_url(topo.instance.db_name), autocommit=True) as db:
        while time.monotonic() - started < 900:
            row = db.execute(UNSENT).fetchone()
            if row is None or not row[0]:
                break
            time.sleep(0.5)
    after = topo.cpu_by_component(bench.process_table())
    return time.monotonic() - started, after.get("celery", 0.0) - before.get("celery", 0.0)


def latency(topo: bench.Topology, images: list, pushers: int, receiver: Receiver) -> list[float]:
    """Seconds from the end of each push to its event's arrival."""
    reset_skopeo_cache()
    finished: dict[str, float] = {}
    lock = threading.Lock()

    def push(k: int) -> None:
        repository = f"timed/img-{k:04d}"
        result = skopeo(
            "copy",
            images[k].ref,
            f"docker://{topo.host}/{repository}:v1",
            creds=bench.ADMIN,
            check=False,
            timeout=600,
        )
        if result.returncode == 0:
            with lock:
                finished[repository] = time.time()

    with ThreadPoolExecutor(max_workers=pushers) as pool:
        list(pool.map(push, range(len(images))))
    deadline = time.monotonic() + 600
    arrived: dict[str, float] = {}
    while time.monotonic() < deadline and len(arrived) < len(finished):
        for got in list(receiver.received):
            name = got.json()["event_data"]["repository"]["repo_full_name"]
            arrived.setdefault(name, got.at)
        time.sleep(0.2)
    return sorted(arrived[name] - finished[name] for name in finished if name in arrived)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="harbor-bench-webhooks-"))
    sizes = types.SimpleNamespace(
        runs=0, big_mib=1, big_layers=1, tiny=args.tiny, tiny_kib=4, tiny_runs=2 * args.rounds + 2
    )
    _, image_sets = bench.generate_images(workdir / "images", sizes)
    latency_sizes = types.SimpleNamespace(**{**vars(sizes), "tiny": args.latency_pushes})
    latency_sizes.tiny_runs = 1
    _, (latency_images,) = bench.generate_images(workdir / "latency", latency_sizes)
    receivers = [Receiver() for _ in range(POLICIES + 1)]
    topo = bench.Topology(name="ours", workdir=workdir / "stack")
    topo.instance = Instance(
        data_dir=topo.workdir / "data",
        port=topo.port,
        extra_env={
            "HARBOR_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "HARBOR_WORKER_NICE": str(args.worker_nice),
        },
    )
    topo.creds = bench.ADMIN
    rates: dict[str, list[float]] = {"quiet": [], "hooked": []}
    per_delivery: list[tuple[float, float]] = []  # worker CPU ms, during a hooked round, after
    try:
        bench.log(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
        bench.log(f"worker niceness: {args.worker_nice}")
        topo.start()
        for project in ("quiet", "hooked", "timed"):
            topo.instance.create_project(project)
        for k, receiver in enumerate(receivers[:POLICIES]):
            formats = "CloudEvents" if k % 2 else "Default"
            policy(topo, "hooked", f"hook{k}", receiver.url, formats)
        policy(topo, "timed", "timed", receivers[POLICIES].url, "Default")
        images = iter(image_sets)
        for project in ("quiet", "hooked"):
            bench.push_tiny(topo, next(images), f"{project}/warm", args.parallel)
            drain(topo)
        order = ("quiet", "hooked", "hooked", "quiet") * args.rounds
        for number, project in enumerate(order[: 2 * args.rounds]):
            rate, cpu = push_round(topo, next(images), f"{project}/r{number}", args.parallel)
            rates[project].append(rate)
            report_round(project, rate, cpu)
            seconds, worker = drain(topo)
            bench.log(
                f"  drained in {seconds:.1f} s; worker CPU {1000 * worker / args.tiny:.1f} "
                "ms/img meanwhile"
            )
            if project == "hooked":
                in_round = cpu.get("celery", 0.0) / POLICIES
                per_delivery.append((in_round, 1000 * worker / args.tiny / POLICIES))
        pairs = [h / q for q, h in zip(rates["quiet"], rates["hooked"], strict=True)]
        ratio = statistics.median(rates["hooked"]) / statistics.median(rates["quiet"])
        print(
            f"tiny-push throughput: quiet median {statistics.median(rates['quiet']):.2f} img/s, "
            f"five policies {statistics.median(rates['hooked']):.2f}; hooked/quiet per pair "
            f"{', '.join(f'{p:.3f}' for p in pairs)}; of the medians {ratio:.3f} "
            f"(goal >= {GOAL})"
        )
        during, after = zip(*per_delivery, strict=True)
        totals = [d + a for d, a in per_delivery]
        print(
            "worker CPU per delivery (hooked rounds, medians): "
            f"{statistics.median(during):.2f} ms during the round + "
            f"{statistics.median(after):.2f} ms after it; totals "
            f"{', '.join(f'{t:.2f}' for t in totals)} ms"
        )
        delays = latency(topo, latency_images, args.pushers, receivers[POLICIES])
        if delays:
            p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))]
            print(
                f"delivery latency, {args.pushers} pushers, {len(delays)} of "
                f"{args.latency_pushes} events: p50 {statistics.median(delays):.2f} s, "
                f"p95 {p95:.2f} s"
            )
        else:
            print("delivery latency: no event arrived")
        bench.log(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}")
        bench.log(f"took {time.monotonic() - started:.0f} s")
        return 0 if ratio >= GOAL and delays else 1
    finally:
        topo.stop()
        for receiver in receivers:
            receiver.close()


if __name__ == "__main__":
    sys.exit(main())
