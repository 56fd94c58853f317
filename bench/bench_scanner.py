"""Built-in scanner benchmark: the time to scan a big image, then the same image with one
layer changed (the per-layer cache's goal: under a fifth of the first), and a scan-all over
1,000 artifacts that share base layers.

    .venv/bin/python -m bench.bench_scanner                       # everything, at once
    # the preparation under load, the measurement alone on a quiet machine:
    .venv/bin/python -m bench.bench_scanner --phase prepare --work /tmp/bs
    .venv/bin/python -m bench.bench_scanner --phase measure --work /tmp/bs

`prepare` creates a fresh PostgreSQL database (--database, kept for `measure`, which drops
it unless --keep), migrates it and imports --records generated OSV records (Debian:12, PyPI
and npm; one in ten names a package the image holds, with ranges of several events)
through `scanner_db`'s import, and pushes to a real distribution (storage under --work;
loopback TCP, token auth): the big image, of four layers (os-release and a dpkg status of
--dpkg packages; --python `*.dist-info` distributions; --npm `node_modules/*/package.json`;
a small top layer), the "changed" image that differs in its top layer only, and --scan-all
artifacts sharing a base of --scan-all-dpkg packages and --scan-all-python distributions
(a python:3 Debian image's size), each with a top layer of its own.

`measure` scans with scanner.engine.scan as the adapter's worker runs it (pull, analyse,
compose, match, the result stored in a job row): --runs interleaved runs of the big image
with empty layer caches then the changed one; then the scan-all, one artifact after the
other (HARBOR_SCANNER_WORKERS=1) from empty caches (--scan-all-budget stops it early and
says how many it scanned). Measured per scan: wall time, and CPU seconds of this process
(time.process_time) plus those of its PostgreSQL backend (/proc, when the server is local).
Wall time is the figure on a quiet machine; CPU time is less disturbed by a loaded one. The
rendering of the report (a GET of it) is measured apart.

Results: a table on stdout and JSON in data/bench/scanner.json (--out). Exit status 1 when
the changed image's median CPU is not under a fifth of the first's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_audit import drop_database, recreate_database

REPO_ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="hpy_scanner_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--dpkg", type=int, default=2000)
    parser.add_argument("--python", type=int, default=500)
    parser.add_argument("--npm", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scan-all",
        type=int,
        default=1000,
        help="artifacts of the scan-all figure (a shared base, a top layer of their own)",
    )
    parser.add_argument("--out", default=str(REPO_ROOT / "data" / "bench" / "scanner.json"))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--scan-all-dpkg", type=int, default=400)
    parser.add_argument("--scan-all-python", type=int, default=20)
    parser.add_argument(
        "--scan-all-budget",
        type=float,
        default=0,
        help="stop the scan-all after this many seconds (0: none) and say how many it scanned",
    )
    parser.add_argument(
        "--phase",
        choices=("all", "prepare", "measure"),
        default="all",
        help="prepare (import, push; keeps the database) then measure, apart: the measure "
        "phase alone can run on a quiet machine",
    )
    parser.add_argument("--work", default="", help="the registry storage and state of a phase")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[bench_scanner] {message}", file=sys.stderr, flush=True)


def setup_django(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.database}"
    os.environ["REDIS_URL"] = args.redis
    os.environ["HARBOR_CACHE_PREFIX"] = f"bench-scanner-{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "harbor_py.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.keys import generate_signing_material

    generate_signing_material(
        settings.HARBOR["TOKEN_KEY_PATH"],
        settings.HARBOR["TOKEN_CERT_PATH"],
        settings.HARBOR["TOKEN_ISSUER"],
    )


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(count)]


def generate_records(args: argparse.Namespace, rng: random.Random) -> list[dict[str, Any]]:
    """--records OSV records: a tenth name the image's packages, the rest other packages."""
    held = {
        "Debian:12": names("deb-pkg-", args.dpkg),
        "PyPI": names("py-dist-", args.python),
        "npm": names("npm-mod-", args.npm),
    }
    records = []
    ecosystems = list(held)
    for number in range(args.records):
        ecosystem = ecosystems[number % 3]
        if number % 10 == 0:
            name = rng.choice(held[ecosystem])
        else:
            name = f"other-{ecosystem.split(':')[0].lower()}-{rng.randrange(50_000)}"
        if ecosystem == "Debian:12":
            events = [
                {"introduced": "0"},
                {"fixed": f"1:{rng.randrange(1, 4)}.{rng.randrange(9)}-1"},
            ]
        else:
            events = [
                {"introduced": "0"},
                {"fixed": f"0.{rng.randrange(1, 9)}.0"},
                {"introduced": f"1.{rng.randrange(0, 3)}.0"},
                {"fixed": f"1.{rng.randrange(3, 9)}.{rng.randrange(5)}"},
            ]
        records.append(
            {
                "id": f"BENCH-{number:06d}",
                "modified": "2026-01-01T00:00:00Z",
                "summary": f"generated advisory {number}",
                "details": "A generated advisory for the scanner benchmark. " * 3,
                "aliases": [f"CVE-2026-{number:06d}"],
                "affected": [
                    {
                        "package": {"ecosystem": ecosystem, "name": name},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}],
                    }
                ],
                "database_specific": {
                    "severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"])
                },
                "references": [{"type": "WEB", "url": f"https://example.invalid/{number}"}],
            }
        )
    return records


def image_layers(args: argparse.Namespace, app_version: str) -> list[bytes]:
    from tests.imagegen import files_layer
    from tests.scanner_images import DEBIAN_OS_RELEASE, dist_info, dpkg_entry, npm_package

    status = "\n".join(
        dpkg_entry(name, f"1:1.{i % 7}-1", source=name)
        for i, name in enumerate(names("deb-pkg-", args.dpkg))
    )
    os_layer = files_layer(
        {"etc/os-release": DEBIAN_OS_RELEASE, "var/lib/dpkg/status": status.encode()}
    )
    site = "usr/lib/python3/dist-packages"
    python_layer = files_layer(
        {
            f"{site}/{name}-1.{i % 5}.0.dist-info/METADATA": dist_info(name, f"1.{i % 5}.0")
            for i, name in enumerate(names("py-dist-", args.python))
        }
    )
    npm_layer = files_layer(
        {
            f"srv/app/node_modules/{name}/package.json": npm_package(name, f"1.{i % 5}.1")
            for i, name in enumerate(names("npm-mod-", args.npm))
        }
    )
    app_layer = files_layer({"srv/app/main.js": f"// build {app_version}\n".encode() * 100})
    return [os_layer, python_layer, npm_layer, app_layer]


def backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(request: dict[str, Any], pid: int | None) -> dict[str, Any]:
    """One scan as the adapter's worker runs it, to its result stored in the job's row;
    then, apart, the rendering of its vulnerability report (as a GET of it does)."""
    from django.utils import timezone

    from scanner import engine
    from scanner.models import ScanJob

    cpu, db, wall = time.process_time(), backend_cpu(pid), time.perf_counter()
    result = engine.scan(request)
    job = ScanJob.objects.create(
        request=request, status=ScanJob.DONE, result=result, finished=timezone.now()
    )
    scanned = {
        "cpu_s": time.process_time() - cpu,
        "db_cpu_s": backend_cpu(pid) - db,
        "wall_s": time.perf_counter() - wall,
    }
    cpu, db = time.process_time(), backend_cpu(pid)
    job = ScanJob.objects.get(pk=job.pk)
    body = json.dumps(engine.vulnerability_report(job))
    return {
        **scanned,
        "report_cpu_s": time.process_time() - cpu,
        "report_db_cpu_s": backend_cpu(pid) - db,
        "report_bytes": len(body),
        "packages": len(result["packages"]),
        "findings": len(result["findings"]),
        "cached_layers": result["cached_layers"],
        "matched_layers": result["matched_layers"],
    }


def base_layers(args: argparse.Namespace) -> list[bytes]:
    """The scan-all artifacts' shared base: os-release and a dpkg status of
    --scan-all-dpkg packages, --scan-all-python distributions (a python:3 Debian image's
    size by default), the first of the big image's names and versions."""
    sized = argparse.Namespace(**{**vars(args), "dpkg": args.scan_all_dpkg,
                                  "python": args.scan_all_python, "npm": 0})  # fmt: skip
    return image_layers(sized, "base")[:2]


def prepare(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """A fresh database with the OSV records, and the images pushed to a distribution on
    `work`/storage; what `measure` needs, also written to `work`/state.json."""
    from django.db import connection

    from scanner import vulndb
    from tests.distribution_process import serving_tcp
    from tests.imagegen import files_layer
    from tests.scanner_images import push_image_layers

    rng = random.Random(22)
    log(f"importing {args.records:,} generated OSV records")
    started = time.process_time()
    vulndb.import_records(generate_records(args, rng), source="bench")
    state: dict[str, Any] = {"import_cpu_s": time.process_time() - started}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE scanner_affected_package")
    token = _token()
    with serving_tcp(work) as url:
        log("building and pushing the two images")
        first_layers = image_layers(args, "1")
        changed_layers = [*first_layers[:3], image_layers(args, "2")[3]]
        state["first"], state["media_type"] = push_image_layers(
            url, REPOSITORY, "first", first_layers, token
        )
        state["changed"], _ = push_image_layers(url, REPOSITORY, "changed", changed_layers, token)
        log(f"pushing {args.scan_all} artifacts that share base layers")
        base = base_layers(args)
        state["all"] = []
        for number in range(args.scan_all):
            top = files_layer({"srv/app/main.js": f"// artifact {number}\n".encode() * 50})
            digest, _ = push_image_layers(url, REPOSITORY, f"a{number}", [*base, top], token)
            state["all"].append(digest)
    (work / "state.json").write_text(json.dumps(state))
    return state


REPOSITORY = "bench/scan"


def _token() -> str:
    from accounts.tokens import Scope, mint

    scope = Scope("repository", REPOSITORY, frozenset({"pull", "push"}))
    return f"Bearer {mint('bench', [scope])[0]}"


def scan_all(
    url: str, token: str, digests: list[str], media_type: str, pid: int | None, budget: float
) -> dict[str, Any]:
    """Scan-all as the built-in scanner's worker meets it: artifacts that share base layers,
    each with a top layer of its own, scanned one after the other (HARBOR_SCANNER_WORKERS=1)
    from empty layer caches, each to its result stored in a job row."""
    from django.utils import timezone

    from scanner import engine
    from scanner.models import LayerFindings, LayerInventory, ScanJob

    LayerInventory.objects.all().delete()
    LayerFindings.objects.all().delete()
    log(f"scan-all of {len(digests)} artifacts")
    walls = []
    cpu, db, wall = time.process_time(), backend_cpu(pid), time.perf_counter()
    for digest in digests:
        if budget and time.perf_counter() - wall > budget:
            log(f"scan-all: the {budget:.0f} s budget is spent after {len(walls)} artifacts")
            break
        request = {
            "registry": {"url": url, "authorization": token},
            "artifact": {"repository": REPOSITORY, "digest": digest, "mime_type": media_type},
        }
        started = time.perf_counter()
        result = engine.scan(request)
        ScanJob.objects.create(
            request=request, status=ScanJob.DONE, result=result, finished=timezone.now()
        )
        walls.append(time.perf_counter() - started)
    rest = sorted(walls[1:]) or [0.0]
    return {
        "artifacts": len(walls),
        "of": len(digests),
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "db_cpu_s": backend_cpu(pid) - db,
        "first_wall_s": walls[0] if walls else 0.0,
        "rest_wall_s_median": statistics.median(rest),
        "rest_wall_s_p95": rest[int(0.95 * (len(rest) - 1))],
    }


def measure_all(args: argparse.Namespace, work: Path, state: dict[str, Any]) -> int:
    from django.db import connection

    from scanner.models import LayerFindings, LayerInventory
    from tests.distribution_process import serving_tcp

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    if not Path(f"/proc/{pid}/stat").exists():
        pid = None
    token = _token()
    media_type = state["media_type"]
    runs: list[dict[str, Any]] = []
    with serving_tcp(work) as url:

        def request(digest: str) -> dict[str, Any]:
            return {
                "registry": {"url": url, "authorization": token},
                "artifact": {"repository": REPOSITORY, "digest": digest, "mime_type": media_type},
            }

        for run in range(args.runs):
            LayerInventory.objects.all().delete()
            LayerFindings.objects.all().delete()
            cold = measure(request(state["first"]), pid)
            warm = measure(request(state["changed"]), pid)
            log(
                f"run {run + 1}: first {cold['wall_s']:.2f} s wall {cold['cpu_s']:.2f} s CPU, "
                f"changed {warm['wall_s']:.2f} s wall {warm['cpu_s']:.2f} s CPU"
            )
            runs.append({"first": cold, "changed": warm})
        everything = (
            scan_all(url, token, state["all"], media_type, pid, args.scan_all_budget)
            if state["all"]
            else None
        )

    def median(key: str, field: str) -> float:
        return statistics.median(r[key][field] for r in runs)

    first_cpu = statistics.median(r["first"]["cpu_s"] + r["first"]["db_cpu_s"] for r in runs)
    changed_cpu = statistics.median(r["changed"]["cpu_s"] + r["changed"]["db_cpu_s"] for r in runs)
    ratio = changed_cpu / first_cpu if first_cpu else 0.0
    wall_ratio = median("changed", "wall_s") / max(1e-9, median("first", "wall_s"))
    result = {
        "records": args.records,
        "image": {"dpkg": args.dpkg, "python": args.python, "npm": args.npm, "layers": 4},
        "import_cpu_s": state["import_cpu_s"],
        "runs": runs,
        "first_wall_s_median": median("first", "wall_s"),
        "changed_wall_s_median": median("changed", "wall_s"),
        "wall_ratio": wall_ratio,
        "first_cpu_s_median": first_cpu,
        "changed_cpu_s_median": changed_cpu,
        "ratio": ratio,
        "goal": GOAL,
        "scan_all": everything,
        "scan_all_base": {"dpkg": args.scan_all_dpkg, "python": args.scan_all_python},
        "load_average": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    last = runs[-1]["first"]
    print(
        f"scanner: {last['packages']} packages, {last['findings']} findings, "
        f"{args.records:,} OSV records"
    )
    print(f"OSV import: {state['import_cpu_s']:.1f} s CPU (this process)")
    print(f"scan ({len(runs)} interleaved runs, medians)   wall s   CPU s (scanner + PostgreSQL)")
    for label, key in (("first (cold cache)", "first"), ("one layer changed", "changed")):
        print(
            f"{label:<36} {median(key, 'wall_s'):6.2f}   "
            f"{median(key, 'cpu_s'):6.2f} + {median(key, 'db_cpu_s'):5.2f}"
        )
    report = statistics.median(
        r[k]["report_cpu_s"] + r[k]["report_db_cpu_s"] for r in runs for k in ("first", "changed")
    )
    print(
        f"rendering its vulnerability report (a GET, either image): {report:.2f} s CPU, "
        f"{last['report_bytes'] / 1e6:.1f} MB"
    )
    if everything is not None:
        print(
            f"scan-all of {everything['artifacts']} (of {everything['of']}) artifacts "
            f"sharing a base of "
            f"{args.scan_all_dpkg} dpkg packages and {args.scan_all_python} Python "
            f"distributions: {everything['wall_s']:.1f} s wall "
            f"({everything['cpu_s']:.1f} + {everything['db_cpu_s']:.1f} s CPU); the first "
            f"{everything['first_wall_s']:.2f} s, each other median "
            f"{everything['rest_wall_s_median'] * 1000:.0f} ms "
            f"(p95 {everything['rest_wall_s_p95'] * 1000:.0f} ms)"
        )
    verdict = "meets" if ratio < GOAL else "MISSES"
    print(
        f"changed / first: wall {wall_ratio:.3f}, CPU {ratio:.3f} ({verdict} the goal < "
        f"{GOAL}); load average {os.getloadavg()[0]:.1f}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"results in {out}")
    return 0 if ratio < GOAL else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-scanner-"))
    work.mkdir(parents=True, exist_ok=True)
    # the signing key (so the token the registry accepts) must be the same in both phases
    os.environ["HARBOR_DATA_DIR"] = str(work / "data")
    if args.phase in ("all", "prepare"):
        log(f"creating database {args.database}")
        recreate_database(args.pg, args.database)
    setup_django(args)
    keep = args.keep or args.phase == "prepare"
    try:
        if args.phase == "measure":
            state = json.loads((work / "state.json").read_text())
        else:
            state = prepare(args, work)
        if args.phase == "prepare":
            log(f"prepared in {work}; measure with --phase measure --work {work}")
            return 0
        return measure_all(args, work, state)
    finally:
        if not keep:
            drop_database(args.pg, args.database)


if __name__ == "__main__":
    sys.exit(main())
