"""Built-in scanner benchmark: CPU time to scan a big image, then the same image with one
layer changed (the per-layer cache's goal: under a fifth of the first).

    .venv/bin/python -m bench.bench_scanner                       # defaults: a few minutes
    .venv/bin/python -m bench.bench_scanner --records 20000 --runs 1   # a quick look

Creates a fresh PostgreSQL database (--database, dropped at the end unless --keep), migrates
it and imports --records generated OSV records (Debian:12, PyPI and npm; one in ten names a
package the image holds, with ranges of several events) through `scanner_db`'s import. The
image has four layers: os-release and a dpkg status of --dpkg packages; --python
`*.dist-info` distributions; --npm `node_modules/*/package.json`; and a small top layer (the
application's own files). The "changed" image differs in that top layer only.

Both images are pushed to a real distribution (loopback TCP, token auth) and scanned by
scanner.engine.scan as the adapter's worker runs it (pull, analyse, compose, match). Each run
scans the first image with empty layer caches (analyses and findings), then the changed one,
each to its result stored in a job row as the worker stores it. Measured per scan: CPU
seconds of this process (time.process_time: pull, decompression, parsing, matching) plus
those of its PostgreSQL backend (/proc, when the server is local), and wall time. CPU time
is the figure to read on a loaded machine; wall time is printed for reference only. The
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(REPO_ROOT / "data" / "bench" / "scanner.json"))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[bench_scanner] {message}", file=sys.stderr, flush=True)


def setup_django(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.database}"
    os.environ["REDIS_URL"] = args.redis
    os.environ.setdefault("HARBOR_DATA_DIR", tempfile.mkdtemp(prefix="bench-scanner-"))
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(22)
    log(f"creating database {args.database}")
    recreate_database(args.pg, args.database)
    setup_django(args)
    try:
        from django.db import connection

        from accounts.tokens import Scope, mint
        from scanner import vulndb
        from scanner.models import LayerFindings, LayerInventory
        from tests.distribution_process import serving_tcp
        from tests.scanner_images import push_image_layers

        log(f"importing {args.records:,} generated OSV records")
        started = time.process_time()
        vulndb.import_records(generate_records(args, rng), source="bench")
        import_cpu = time.process_time() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE scanner_affected_package")
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        if not Path(f"/proc/{pid}/stat").exists():
            pid = None
        base = Path(tempfile.mkdtemp(prefix="bench-scanner-registry-"))
        repository = "bench/scan"
        scope = Scope("repository", repository, frozenset({"pull", "push"}))
        token = f"Bearer {mint('bench', [scope])[0]}"
        runs: list[dict[str, Any]] = []
        with serving_tcp(base) as url:
            log("building and pushing the two images")
            first_layers = image_layers(args, "1")
            changed_layers = [*first_layers[:3], image_layers(args, "2")[3]]
            first, media_type = push_image_layers(url, repository, "first", first_layers, token)
            changed, _ = push_image_layers(url, repository, "changed", changed_layers, token)

            def request(digest: str) -> dict[str, Any]:
                return {
                    "registry": {"url": url, "authorization": token},
                    "artifact": {
                        "repository": repository,
                        "digest": digest,
                        "mime_type": media_type,
                    },
                }

            for run in range(args.runs):
                LayerInventory.objects.all().delete()
                LayerFindings.objects.all().delete()
                cold = measure(request(first), pid)
                warm = measure(request(changed), pid)
                log(
                    f"run {run + 1}: first {cold['cpu_s']:.2f} s CPU, "
                    f"changed {warm['cpu_s']:.2f} s CPU"
                )
                runs.append({"first": cold, "changed": warm})
        first_cpu = statistics.median(r["first"]["cpu_s"] + r["first"]["db_cpu_s"] for r in runs)
        changed_cpu = statistics.median(
            r["changed"]["cpu_s"] + r["changed"]["db_cpu_s"] for r in runs
        )
        ratio = changed_cpu / first_cpu if first_cpu else 0.0
        result = {
            "records": args.records,
            "image": {"dpkg": args.dpkg, "python": args.python, "npm": args.npm, "layers": 4},
            "import_cpu_s": import_cpu,
            "runs": runs,
            "first_cpu_s_median": first_cpu,
            "changed_cpu_s_median": changed_cpu,
            "ratio": ratio,
            "goal": GOAL,
            "load_average": os.getloadavg(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
        last = runs[-1]["first"]
        print(
            f"scanner: {last['packages']} packages, {last['findings']} findings, "
            f"{args.records:,} OSV records"
        )
        print(f"OSV import: {import_cpu:.1f} s CPU (this process)")
        print("scan                  CPU s (scanner + PostgreSQL)   wall s (reference)")
        for label, key in (("first (cold cache)", "first"), ("one layer changed", "changed")):
            cpu = statistics.median(r[key]["cpu_s"] for r in runs)
            db = statistics.median(r[key]["db_cpu_s"] for r in runs)
            wall = statistics.median(r[key]["wall_s"] for r in runs)
            print(f"{label:<21} {cpu:6.2f} + {db:5.2f}                   {wall:6.2f}")
        report = statistics.median(
            r[k]["report_cpu_s"] + r[k]["report_db_cpu_s"]
            for r in runs
            for k in ("first", "changed")
        )
        print(
            f"rendering its vulnerability report (a GET, either image): {report:.2f} s CPU, "
            f"{last['report_bytes'] / 1e6:.1f} MB"
        )
        verdict = "meets" if ratio < GOAL else "MISSES"
        print(
            f"changed / first CPU: {ratio:.3f} ({verdict} the goal < {GOAL}); "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        log(f"results in {out}")
        return 0 if ratio < GOAL else 1
    finally:
        if not args.keep:
            drop_database(args.pg, args.database)


if __name__ == "__main__":
    sys.exit(main())
