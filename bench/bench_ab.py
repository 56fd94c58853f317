"""A/B benchmark: does a setting make tiny-image pushes cheaper? Interleaved, so that the
VM's drift (whole runs here differ by more than most changes) hits both sides alike.

    .venv/bin/python -m bench.bench_ab --b HARBOR_REGISTRY_GOGC=100
    .venv/bin/python -m bench.bench_ab --a HARBOR_WEB_WORKERS=2 --b HARBOR_WEB_WORKERS=1 --rounds 6
    .venv/bin/python -m bench.bench_ab --a-root /tmp/before   # a commit's code against ours
    .venv/bin/python -m bench.bench_ab --patroni B  # B: Patroni, synchronous; A: one PostgreSQL

Starts two instances of our stack (tests.stack.Instance, PostgreSQL), A and B, each with its
extra environment (--a, --b: NAME=VALUE, repeatable), pushes one warm-up round of --tiny
one-layer images to each, then --rounds rounds per instance in ABBA order, every round
to new repositories with images its storage has never seen, by --parallel concurrent
skopeo processes (as bench/bench.py's tiny push). For each round it prints images/s and the
CPU time per image by component (ms, from /proc: gunicorn, PostgreSQL, distribution, nginx,
skopeo, ...); at the end the medians, B/A per pair of neighbouring rounds, and the resident
and peak memory of each instance's distribution. A change is real when the pairs agree.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import types
from pathlib import Path

from bench import bench
from tests.imagegen import ImageLayout
from tests.patroni import running_patroni
from tests.stack import REPO_ROOT, Instance

SIDES = ("A", "B")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_ab", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--a", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--b", action="append", default=[], metavar="NAME=VALUE")
    for side in ("a", "b"):
        parser.add_argument(
            f"--{side}-root",
            type=Path,
            default=REPO_ROOT,
            help=f"checkout whose code {side.upper()} runs, e.g. `git archive` of a commit",
        )
    parser.add_argument("--rounds", type=int, default=4, help="rounds per instance (4)")
    parser.add_argument("--tiny", type=int, default=200, help="images per round (200)")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent skopeo (8)")
    parser.add_argument(
        "--patroni",
        choices=SIDES,
        help="this side's database is on two Patroni nodes in synchronous replication, "
        "through HAProxy (tests/patroni.py); the other's on the one PostgreSQL",
    )
    args = parser.parse_args(argv)
    for value in (*args.a, *args.b):
        if "=" not in value:
            parser.error(f"{value!r} is not NAME=VALUE")
    if min(args.rounds, args.tiny, args.parallel) < 1:
        parser.error("counts must be at least 1")
    return args


def push_round(
    topo: bench.Topology, images: list[ImageLayout], repo_prefix: str, parallel: int
) -> tuple[float, dict[str, float]]:
    """Images/s, and CPU ms per image by component."""
    bench.settle(10)
    before = topo.cpu_by_component(bench.process_table())
    clients_before = bench.clients_cpu()
    elapsed = bench.push_tiny(topo, images, repo_prefix, parallel)
    after = topo.cpu_by_component(bench.process_table())
    per_image = 1000 / len(images)
    cpu = {name: (used - before.get(name, 0.0)) * per_image for name, used in after.items()}
    cpu["skopeo (clients)"] = (bench.clients_cpu() - clients_before) * per_image
    return len(images) / elapsed, {name: ms for name, ms in cpu.items() if ms >= 0.05}


def registry_memory(instance: Instance) -> str:
    """VmRSS and VmHWM of the instance's distribution."""
    proc = instance.registry_process()
    try:
        lines = (proc / "status").read_text().splitlines() if proc else []
    except OSError:  # it ended
        lines = []
    status = dict(line.split(":", 1) for line in lines)
    if not status:
        return "not found"
    return f"rss {status['VmRSS'].strip()}, peak {status['VmHWM'].strip()}"


GATE_COMPONENTS = ("gunicorn", "granian", "postgres")  # what the gate adds; the least noisy figure


def gate_cpu(cpu: dict[str, float]) -> float:
    return sum(ms for name, ms in cpu.items() if name in GATE_COMPONENTS)


def report_ratios(what: str, figures: dict[str, list[float]]) -> None:
    """Medians per side, and B/A per pair of neighbouring rounds and of the medians: rounds
    2k and 2k+1 of ABBA... are neighbours, one A and one B each."""
    medians = {side: statistics.median(figures[side]) for side in SIDES}
    pairs = [b / a for a, b in zip(figures["A"], figures["B"], strict=True)]
    print(
        f"{what}: median A {medians['A']:.2f}, B {medians['B']:.2f}; B/A per pair "
        f"{', '.join(f'{p:.3f}' for p in pairs)}; B/A of the medians "
        f"{medians['B'] / medians['A']:.3f}"
    )


def report_round(side: str, rate: float, cpu: dict[str, float]) -> None:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in sorted(cpu.items(), key=lambda i: -i[1]))
    bench.log(f"{side} {rate:5.1f} img/s, CPU {sum(cpu.values()):5.1f} ms/img: {parts}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench.without_proxy()
    workdir = Path(tempfile.mkdtemp(prefix="harbor-bench-ab-"))
    sizes = types.SimpleNamespace(
        runs=0, big_mib=1, big_layers=1, tiny=args.tiny, tiny_kib=4, tiny_runs=2 * args.rounds + 2
    )
    _, image_sets = bench.generate_images(workdir / "images", sizes)
    topos: dict[str, bench.Topology] = {}
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    totals: dict[str, list[float]] = {side: [] for side in SIDES}
    gate: dict[str, list[float]] = {side: [] for side in SIDES}
    stack = contextlib.ExitStack()
    try:
        roots = (args.a_root, args.b_root)
        for side, settings, root in zip(SIDES, (args.a, args.b), roots, strict=True):
            topo = bench.Topology(name="ours", workdir=workdir / side)
            env = dict(value.split("=", 1) for value in settings)
            database: str | None = "postgres"
            if side == args.patroni:
                patroni = stack.enter_context(running_patroni())
                env["DATABASE_URL"] = patroni.create_database("harbor_bench")
                database = None
            topo.instance = Instance(
                data_dir=topo.workdir / "data",
                port=topo.port,
                database=database,
                extra_env=env,
                root=root,
            )
            topo.creds = bench.ADMIN
            topos[side] = topo
            bench.log(f"starting {side} on {topo.host} from {root} with {env or 'the defaults'}")
            topo.start()
            topo.instance.create_project(bench.PROJECT, public=False)
        images = iter(image_sets)
        for side in SIDES:
            bench.push_tiny(topos[side], next(images), f"{bench.PROJECT}/warm", args.parallel)
        for number, side in enumerate(("ABBA" * args.rounds)[: 2 * args.rounds]):
            rate, cpu = push_round(
                topos[side], next(images), f"{bench.PROJECT}/r{number}", args.parallel
            )
            rates[side].append(rate)
            totals[side].append(sum(cpu.values()))
            gate[side].append(gate_cpu(cpu))
            report_round(side, rate, cpu)
        for side in SIDES:
            assert topos[side].instance is not None
            print(
                f"{side}: median {statistics.median(rates[side]):.1f} img/s, "
                f"{statistics.median(totals[side]):.1f} CPU ms/img; "
                f"distribution {registry_memory(topos[side].instance)}"
            )
        # Rounds 2k and 2k+1 of ABBA... are neighbours: one A and one B each.
        report_ratios("throughput", rates)
        report_ratios(f"CPU of {' + '.join(GATE_COMPONENTS)} per image", gate)
    finally:
        for topo in topos.values():
            topo.stop()
        stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
