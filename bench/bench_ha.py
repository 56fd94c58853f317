"""HA benchmark (issue #27): push and pull on SeaweedFS, and the cost of Patroni.

    .venv/bin/python -m bench.bench_ha                     # defaults: a few minutes
    .venv/bin/python -m bench.bench_ha --runs 1 --tiny 16 --big-mib 8   # a quick look

One SeaweedFS (`weed server`, tests/seaweedfs.py) with a bucket per topology, and three
topologies on it, all on 127.0.0.1:
  bare     distribution alone on SeaweedFS's S3, no auth
  ours     the whole harbor-py stack (tests.stack.Instance) on SeaweedFS, one PostgreSQL
  patroni  the same stack, its database on two Patroni nodes in synchronous replication
           behind HAProxy (tests/patroni.py)

Measured per run, the topologies interleaved (the order rotates from run to run): push
and pull of one image of --big-layers x --big-mib random layers (MB/s, 1 MB = 10^6
bytes), and --tiny one-layer images of 4 KiB pushed, then pulled back, by --parallel
concurrent skopeo processes (img/s). Every push sends blobs its storage has never seen.
Printed: the medians, ours/bare and patroni/ours of the medians and run by run.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import bench
from harbor_py.processes import process_environment
from tests.imagegen import ImageLayout
from tests.patroni import running_patroni
from tests.seaweedfs import SeaweedFS, running_seaweedfs
from tests.stack import DOCKER_REGISTRY, Instance, reset_skopeo_cache, skopeo

TOPOLOGIES = ("bare", "ours", "patroni")
METRICS = {
    "big_push": "big push MB/s",
    "big_pull": "big pull MB/s",
    "tiny_push": "tiny push img/s",
    "tiny_pull": "tiny pull img/s",
}
S3_REGISTRY_CONFIG = """\
# distribution alone on SeaweedFS (written by bench/bench_ha.py), as deploy/registry.yml
# renders it for S3, without `auth:`.
version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: true
storage:
  s3:
    region: us-east-1
    regionendpoint: {endpoint}
    bucket: {bucket}
    accesskey: {access_key}
    secretkey: {secret_key}
    secure: false
    v4auth: true
    rootdirectory: /registry
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  net: tcp
  addr: {addr}
  secret: {secret}
"""


class BareOnS3(bench.Topology):
    """distribution alone, its storage a SeaweedFS bucket."""

    store: SeaweedFS

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "registry.yml"
        config.write_text(
            S3_REGISTRY_CONFIG.format(
                endpoint=self.store.endpoint,
                bucket=self.store.new_bucket("bench-bare"),
                access_key=self.store.access_key,
                secret_key=self.store.secret_key,
                addr=self.host,
                secret=secrets.token_urlsafe(32),
            )
        )
        # As `serve registry` runs it: GOGC and GOMEMLIMIT set, AWS_CA_BUNDLE dropped.
        environment = process_environment("registry", bench.child_env())
        with open(self.workdir / "registry.log", "ab") as log:
            proc = subprocess.Popen(
                [DOCKER_REGISTRY, "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )
        self.procs.append(proc)
        bench.wait_http(f"{self.url}/v2/", (200,), 30, proc, "docker-registry")


def pull_tiny(topo: bench.Topology, repos: list[str], dest: Path, parallel: int) -> float:
    reset_skopeo_cache()
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        started = time.perf_counter()
        results = list(
            pool.map(
                lambda item: skopeo(
                    "copy",
                    f"docker://{topo.host}/{item[1]}:v1",
                    f"oci:{dest / str(item[0])}:v1",
                    creds=topo.creds,
                    check=False,
                    timeout=300,
                ),
                enumerate(repos),
            )
        )
        elapsed = time.perf_counter() - started
    shutil.rmtree(dest, ignore_errors=True)
    failed = [r.stderr[-300:] for r in results if r.returncode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} tiny pulls failed: {failed[0]}")
    return elapsed


def measure_run(
    topo: bench.Topology,
    big: ImageLayout,
    tiny: list[ImageLayout],
    run: int,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, float]:
    """One run's four figures on one topology."""
    prefix = f"{bench.PROJECT}/r{run}"
    big_mb = bench.layout_bytes(big) / 1e6
    figures: dict[str, float] = {}
    steps: list[tuple[str, float, Callable[[], float]]] = [
        ("big_push", big_mb, lambda: bench.push_big(topo, big, f"{prefix}-big")),
        ("big_pull", big_mb, lambda: bench.pull_big(topo, big, f"{prefix}-big", workdir / "p")),
        ("tiny_push", len(tiny), lambda: bench.push_tiny(topo, tiny, prefix, args.parallel)),
        (
            "tiny_pull",
            len(tiny),
            lambda: pull_tiny(
                topo, [f"{prefix}-{k:03d}" for k in range(len(tiny))], workdir / "t", args.parallel
            ),
        ),
    ]
    for metric, amount, action in steps:
        bench.settle(args.settle_max)
        figures[metric] = amount / action()
        bench.log(f"run {run} {topo.name:8} {METRICS[metric]:16} {figures[metric]:7.1f}")
    return figures


@contextlib.contextmanager
def topologies(workdir: Path, store: SeaweedFS) -> Iterator[dict[str, bench.Topology]]:
    started: dict[str, bench.Topology] = {}
    with contextlib.ExitStack() as stack:
        patroni = stack.enter_context(running_patroni())
        bare = BareOnS3(name="bare", workdir=workdir / "bare")
        bare.store = store
        started["bare"] = bare
        for name in ("ours", "patroni"):
            env = store.harbor_env(store.new_bucket(f"bench-{name}"))
            database: str | None = "postgres"
            if name == "patroni":
                env["DATABASE_URL"] = patroni.create_database("harbor_bench_ha")
                database = None
            topo = bench.Topology(name=name, workdir=workdir / name, creds=bench.ADMIN)
            topo.instance = Instance(
                data_dir=topo.workdir / "data", port=topo.port, database=database, extra_env=env
            )
            started[name] = topo
        try:
            for topo in started.values():
                bench.log(f"starting {topo.name} on {topo.host}")
                topo.start()
                if topo.instance is not None:
                    topo.instance.create_project(bench.PROJECT, public=False)
            yield started
        finally:
            for topo in started.values():
                topo.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_ha", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per topology (3)")
    parser.add_argument("--big-mib", type=int, default=32, help="MiB per big layer (32)")
    parser.add_argument("--big-layers", type=int, default=2, help="layers of the big image (2)")
    parser.add_argument("--tiny", type=int, default=40, help="tiny images per run (40)")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent skopeo (8)")
    parser.add_argument(
        "--settle-max", type=float, default=10, help="seconds to wait for an idle CPU (10)"
    )
    args = parser.parse_args(argv)
    if min(args.runs, args.big_mib, args.big_layers, args.tiny, args.parallel) < 1:
        parser.error("counts must be at least 1")
    return args


def ratio_line(samples: dict[str, dict[str, list[float]]], top: str, base: str) -> list[str]:
    lines = []
    for metric, label in METRICS.items():
        ours, theirs = samples[top][metric], samples[base][metric]
        per_run = ", ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True))
        medians = statistics.median(ours) / statistics.median(theirs)
        lines.append(f"  {label:16} {medians:.2f} (run by run: {per_run})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="harbor-bench-ha-"))
    sizes = argparse.Namespace(
        runs=args.runs * len(TOPOLOGIES),
        big_mib=args.big_mib,
        big_layers=args.big_layers,
        tiny=args.tiny,
        tiny_kib=4,
        tiny_runs=args.runs * len(TOPOLOGIES),
    )
    samples: dict[str, dict[str, list[float]]] = {
        name: {metric: [] for metric in METRICS} for name in TOPOLOGIES
    }
    try:
        big, tiny = bench.generate_images(workdir / "images", sizes)
        images = iter(zip(big, tiny, strict=True))
        with (
            running_seaweedfs(workdir / "seaweedfs") as store,
            topologies(workdir, store) as topos,
        ):
            for run in range(args.runs):
                order = TOPOLOGIES[run % 3 :] + TOPOLOGIES[: run % 3]
                for name in order:
                    big_image, tiny_images = next(images)
                    figures = measure_run(topos[name], big_image, tiny_images, run, args, workdir)
                    for metric, value in figures.items():
                        samples[name][metric].append(value)
    except subprocess.CalledProcessError as exc:
        print(exc.stderr, file=sys.stderr)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nHA bench on SeaweedFS, medians of {args.runs} runs (this machine's load included):")
    print(f"  {'':16} " + " ".join(f"{name:>9}" for name in TOPOLOGIES))
    for metric, label in METRICS.items():
        row = " ".join(f"{statistics.median(samples[n][metric]):9.1f}" for n in TOPOLOGIES)
        print(f"  {label:16} {row}")
    print("harbor-py / bare distribution, both on SeaweedFS:")
    print("\n".join(ratio_line(samples, "ours", "bare")))
    print("Patroni (synchronous) / one PostgreSQL, both harbor-py on SeaweedFS:")
    print("\n".join(ratio_line(samples, "patroni", "ours")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
