"""API list benchmark: p50/p95 of the list and search calls at N concurrent clients, on a
whole harbor-py instance (PostgreSQL) seeded with Harbor's "small" performance data set.

    .venv/bin/python -m bench.bench_api              # defaults: ~4 min on an idle 2-core box
    .venv/bin/python -m bench.bench_api --projects 10 --requests 50    # a quick look

Starts tests.stack.Instance (PostgreSQL, the platform as `make up` runs it), creates a
non-admin user and runs `manage.py seed` (--projects x --repositories x --artifacts x --tags,
every artifact with one global label, the user Developer of every project), then VACUUM
ANALYZE. Each call below is then measured twice, as the sysadmin (admin) and as the member:
--clients threads, each with its own keep-alive httpx client and Basic credentials, send
--requests requests in all (after --warmup requests each, not counted); a request's latency
is from sending to the whole body read. The clients run on the same machine as the server.

  projects         GET /api/v2.0/projects?page_size=10
  projects deep    the same, page 50 (the last page when there are fewer)
  repositories     GET /api/v2.0/projects/{p}/repositories?page_size=10
  artifacts        GET /api/v2.0/projects/{p}/repositories/{r}/artifacts
                       ?with_tag=true&with_label=true&page_size=10
  all repos        GET /api/v2.0/repositories?page_size=10
  all repos deep   the same, page 50
  search           GET /api/v2.0/search?q=repo05 (unpaginated, as Harbor's)

{p} and {r} are the middle project and repository. The SQL queries of each call and user,
their time and the time of the whole request (one at a time, no load) are measured
in-process (`manage.py shell`: Django's test client with the instance's database and
settings, CaptureQueriesContext); the integration tests (tests/integration/test_seed.py
and the test_api_* query-count tests) assert that these counts do not grow with the data.

Results: a table on stdout and JSON in data/bench/api.json (--out).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.bench import (
    cleanup_guard,
    git_state,
    http_client,
    log,
    percentile,
    settle,
    unwind_on_signals,
    without_proxy,
)
from tests.stack import ADMIN_PASSWORD, PG_DSN, REPO_ROOT, Instance

MEMBER = ("bench-dev", "Bench-Passw0rd")
MARKER = "BENCH-API-QUERIES "


@dataclass(frozen=True)
class Call:
    name: str
    path: str


def bench_calls(args: argparse.Namespace) -> list[Call]:
    project = f"{args.prefix}{args.projects // 2:04d}"
    repository = f"repo{args.repositories // 2:03d}"
    # Page 50, or the last page when there are fewer (100 projects make 10 pages of 10).
    project_page = min(50, max(1, -(-args.projects // 10)))
    repo_page = min(50, max(1, -(-(args.projects * args.repositories) // 10)))
    base = f"/api/v2.0/projects/{project}/repositories"
    return [
        Call("projects", "/api/v2.0/projects?page_size=10"),
        Call("projects deep", f"/api/v2.0/projects?page_size=10&page={project_page}"),
        Call("repositories", f"{base}?page_size=10"),
        Call(
            "artifacts",
            f"{base}/{repository}/artifacts?with_tag=true&with_label=true&page_size=10",
        ),
        Call("all repos", "/api/v2.0/repositories?page_size=10"),
        Call("all repos deep", f"/api/v2.0/repositories?page_size=10&page={repo_page}"),
        Call("search", f"/api/v2.0/search?q={args.search}"),
    ]


def items_in(body: Any) -> int:
    if isinstance(body, dict):  # search
        return len(body.get("project", [])) + len(body.get("repository", []))
    return len(body)


# -- query counts, in the instance's environment ------------------------------------------------


def queries_in_process(spec: str) -> None:
    """Run by `manage.py shell` in the instance's environment: for each user and call, the
    SQL queries of one request (after a warm-up request) and the median time of 5 more
    (Django alone, one at a time), printed as JSON after MARKER."""
    import base64

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    data = json.loads(spec)
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for username, password in data["users"]:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        client = Client(HTTP_AUTHORIZATION=f"Basic {token}")
        result[username] = {}
        for name, path in data["calls"]:
            client.get(path)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            # Read now: captured_queries slices the connection's log, which the next
            # request clears.
            captured = list(queries.captured_queries)
            timings = []
            for _ in range(5):
                began = time.perf_counter()
                client.get(path)
                timings.append((time.perf_counter() - began) * 1000)
            result[username][name] = {
                "status": response.status_code,
                "queries": len(captured),
                "sql_ms": round(sum(float(q["time"]) for q in captured) * 1000, 1),
                "app_ms": round(statistics.median(timings), 1),
            }
    print(MARKER + json.dumps(result))


def count_queries(instance: Instance, calls: list[Call], users: list[tuple[str, str]]) -> dict:
    spec = json.dumps({"users": users, "calls": [(c.name, c.path) for c in calls]})
    code = f"from bench.bench_api import queries_in_process; queries_in_process({spec!r})"
    return shell_json(instance, code, MARKER)


def shell_json(instance: Instance, code: str, marker: str) -> Any:
    """Run `code` with `manage.py shell` in the instance's environment; the JSON it
    printed after `marker`."""
    result = instance.manage("shell", "-c", code, check=False)
    for line in result.stdout.splitlines():
        if line.startswith(marker):
            return json.loads(line[len(marker) :])
    raise RuntimeError(f"{code[:60]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


# -- load -------------------------------------------------------------------------------------


def measure(
    instance: Instance, call: Call, auth: tuple[str, str], clients: int, requests: int, warmup: int
) -> dict[str, Any]:
    """`requests` requests of `call` from `clients` concurrent keep-alive clients."""
    tickets = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    pages: list[int] = []
    start_line = threading.Barrier(clients + 1, timeout=600)

    def worker() -> None:
        client = http_client(base_url=instance.url, auth=auth)
        try:
            try:
                for _ in range(warmup):
                    client.get(call.path)
            except BaseException:
                start_line.abort()  # the others and the main thread stop waiting
                raise
            start_line.wait()
            counted = False
            while next(tickets) < requests:
                began = time.perf_counter()
                try:
                    response = client.get(call.path)
                    elapsed = time.perf_counter() - began
                    ok = response.status_code == 200
                    detail = f"HTTP {response.status_code}: {response.text[:200]}"
                except Exception as exc:
                    elapsed, ok, detail = time.perf_counter() - began, False, repr(exc)
                with lock:
                    if ok:
                        latencies.append(elapsed * 1000)
                    else:
                        errors.append(detail)
                if ok and not counted:  # parsing every body would load the client threads
                    pages.append(items_in(response.json()))
                    counted = True
        finally:
            client.close()

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(worker) for _ in range(clients)]
        try:
            start_line.wait()
        except threading.BrokenBarrierError:
            for future in futures:  # the worker's own error, not the broken barrier
                if not isinstance(future.exception(), threading.BrokenBarrierError):
                    future.result()
            raise
        began = time.perf_counter()
        for future in futures:
            future.result()
        wall = time.perf_counter() - began
    return {
        "requests": requests,
        "ok": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "items": max(pages) if pages else 0,
        "p50_ms": round(percentile(latencies, 0.50) or 0, 1),
        "p95_ms": round(percentile(latencies, 0.95) or 0, 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else 0,
        "max_ms": round(max(latencies), 1) if latencies else 0,
        "req_per_s": round(len(latencies) / wall, 1) if wall else 0,
        "seconds": round(wall, 2),
    }


# -- report -----------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    p = result["parameters"]
    data = result["data_set"]
    print()
    print(
        f"harbor-py API list bench: {result['machine']['cpus']} CPUs, PostgreSQL; "
        f"{p['projects']} projects x {p['repositories']} repositories x {p['artifacts']} "
        f"artifacts x {p['tags']} tags ({data['artifacts']} artifacts, {data['tags']} tags); "
        f"{p['clients']} concurrent clients, {p['requests']} requests per call and user"
    )
    print(
        f"code measured: {result['code']}; seeded in {result['seed_seconds']:.1f}s, "
        + (
            "no planner statistics (--no-statistics)"
            if p["no_statistics"]
            else f"VACUUM ANALYZE {result['vacuum_seconds']:.1f}s"
        )
    )
    head = (
        f"{'call':<16}{'user':<8}{'items':>6}{'queries':>8}{'sql ms':>8}{'app ms':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}{'max ms':>9}{'req/s':>8}{'errors':>8}"
    )
    print(head)
    print("-" * len(head))
    for row in result["calls"]:
        for user, m in row["users"].items():
            q = m.get("queries") or {}
            print(
                f"{row['name']:<16}{user:<8}{m['items']:>6}{q.get('queries', '-'):>8}"
                f"{q.get('sql_ms', '-'):>8}{q.get('app_ms', '-'):>8}"
                f"{m['p50_ms']:>9.1f}{m['p95_ms']:>9.1f}{m['mean_ms']:>9.1f}{m['max_ms']:>9.1f}{m['req_per_s']:>8.1f}{m['errors']:>8}"
            )
    print(
        "(items: entries on the page; queries, sql ms, app ms: one request at a time "
        "in-process (Django's test client, no HTTP), no load;\n p50/p95/mean/max and req/s: "
        "over HTTP through nginx and gunicorn, all clients at once)"
    )
    for row in result["calls"]:
        print(f"  {row['name']:<16}{row['path']}")
    if result["busy_starts"]:
        print(
            f"NOTE: {len(result['busy_starts'])} measurements started while other processes "
            "kept the CPU >=15% busy (list in the JSON)"
        )
    for row in result["calls"]:
        for user, m in row["users"].items():
            for example in m["error_examples"]:
                print(f"FAILED {row['name']} as {user}: {example}")


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--projects", type=int, default=100, help="projects (100)")
    parser.add_argument("--repositories", type=int, default=100, help="per project (100)")
    parser.add_argument("--artifacts", type=int, default=10, help="per repository (10)")
    parser.add_argument("--tags", type=int, default=5, help="per artifact (5)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent clients (10)")
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per call and user (200)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests per client (2)")
    parser.add_argument("--search", default="repo05", help="the search keyword (repo05)")
    parser.add_argument(
        "--settle-max", type=float, default=10, help="max seconds to wait for an idle CPU (10)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "data" / "bench" / "api.json",
        help="JSON results (data/bench/api.json)",
    )
    parser.add_argument(
        "--no-statistics",
        action="store_true",
        help="measure without ANALYZE: the planner sees table sizes but no statistics, as on"
        " a new database with autovacuum off",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    args.prefix = "perf"
    if min(args.projects, args.repositories, args.artifacts, args.tags) < 1:
        parser.error("the data set needs at least one of each")
    if min(args.clients, args.requests) < 1 or args.warmup < 0:
        parser.error("--clients and --requests must be at least 1, --warmup at least 0")
    return args


def sql(instance: Instance, statement: str) -> tuple[Any, ...] | None:
    """One statement on the instance's database, outside any transaction."""
    conn = psycopg.connect(PG_DSN.rsplit("/", 1)[0] + f"/{instance.db_name}")
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchone() if cursor.description else None
    finally:
        conn.close()


def vacuum_analyze(instance: Instance) -> float:
    """A steady state: visibility map and planner statistics as after autovacuum."""
    began = time.monotonic()
    sql(instance, "VACUUM (ANALYZE)")
    return time.monotonic() - began


def table_counts(instance: Instance) -> tuple[int, int]:
    row = sql(instance, "SELECT (SELECT count(*) FROM artifact), (SELECT count(*) FROM tag)")
    assert row is not None
    return int(row[0]), int(row[1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    without_proxy()
    unwind_on_signals()
    workdir = Path(tempfile.mkdtemp(prefix="harbor-bench-api-"))
    started = time.monotonic()
    calls = bench_calls(args)
    users = {"admin": ("admin", ADMIN_PASSWORD), "member": MEMBER}
    rows = [{"name": c.name, "path": c.path, "users": {}} for c in calls]
    busy_starts: list[dict[str, Any]] = []
    instance = Instance(data_dir=workdir / "data")
    try:
        log(f"starting harbor-py on {instance.host} (work directory {workdir})")
        instance.start()
        instance.create_user(*MEMBER)
        log(
            f"seeding {args.projects} x {args.repositories} x {args.artifacts} x {args.tags}"
            f" (member {MEMBER[0]})"
        )
        began = time.monotonic()
        instance.manage(
            "seed",
            *("--projects", str(args.projects), "--repositories", str(args.repositories)),
            *("--artifacts", str(args.artifacts), "--tags", str(args.tags)),
            *("--prefix", args.prefix, "--member", MEMBER[0]),
            *(("--no-analyze",) if args.no_statistics else ()),
        )
        seed_seconds = time.monotonic() - began
        vacuum_seconds = 0.0 if args.no_statistics else vacuum_analyze(instance)
        analyzed = "no ANALYZE" if args.no_statistics else f"VACUUM ANALYZE {vacuum_seconds:.1f}s"
        log(f"seeded in {seed_seconds:.1f}s, {analyzed}")
        artifacts, tags = table_counts(instance)
        log("counting queries in-process")
        counts = count_queries(instance, calls, list(users.values()))
        for call, row in zip(calls, rows, strict=True):
            for label, auth in users.items():
                waited, busy = settle(args.settle_max)
                if busy >= 0.15:
                    busy_starts.append({"call": call.name, "user": label, "busy": round(busy, 2)})
                measured = measure(instance, call, auth, args.clients, args.requests, args.warmup)
                measured["queries"] = counts.get(auth[0], {}).get(call.name)
                row["users"][label] = measured
                log(
                    f"{call.name} as {label}: p50 {measured['p50_ms']} ms, "
                    f"p95 {measured['p95_ms']} ms, {measured['req_per_s']} req/s, "
                    f"{measured['errors']} errors (waited {waited:.0f}s for an idle CPU)"
                )
    finally:
        with cleanup_guard():
            log("stopping harbor-py")
            try:
                instance.stop()
            except Exception as exc:
                log(f"stopping failed: {exc!r}")
            if args.keep:
                log(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_seconds": round(time.monotonic() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "code": git_state(),
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "data_set": {
            "projects": args.projects,
            "repositories": args.projects * args.repositories,
            "artifacts": artifacts,
            "tags": tags,
        },
        "seed_seconds": round(seed_seconds, 1),
        "vacuum_seconds": round(vacuum_seconds, 1),
        "busy_starts": busy_starts,
        "calls": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(result)
    print(f"\nresults: {args.out}; total {result['duration_seconds']:.0f}s")
    failed = sum(m["errors"] for row in rows for m in row["users"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
