"""Audit log benchmark: page-1 latency of the audit lists on a 5-million-row log, and what
audit costs a pull.

    .venv/bin/python -m bench.bench_audit                   # 5,000,000 rows: ~6 min
    .venv/bin/python -m bench.bench_audit --rows 200000     # a quick look

Creates a fresh PostgreSQL database (--database, default hpy_audit_bench, dropped at the end
unless --keep) at --pg (default postgres://postgres@127.0.0.1:5432), migrates it, creates
--projects projects, a sysadmin and a project admin (ProjectAdmin of the largest project,
one middle and one small one), and loads --rows audit entries with COPY (indexes dropped
for the load and rebuilt after, then VACUUM ANALYZE). The entries span 180 days, oldest
first, ~80 % pulls, project sizes Zipf-like, 2,000 users, 5 % logins without a project.

Then, in this process through Django's test client (session login, the full middleware
and DRF stack, JSON rendering; no network), each call is timed --repeat times after 3
warm-up calls: median, p95 and max in ms, with the X-Total-Count it answered. For
comparison, an exact SELECT COUNT(*) of the whole log is timed too.

Pull audit overhead: registry.pulls.record_pull against --redis, with and without the
audit event (same pipelined round trip), and PullEvent.of (building the event from the
request); and the aggregation of --pull-events queued events into the big log (rows/s).

Results: a table on stdout and JSON in data/bench/audit.json (--out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from bench.bench import percentile

REPO_ROOT = Path(__file__).resolve().parents[1]
DAYS = 180
USERS = 2000
COLUMNS = (
    "username",
    "project_id",
    "project_name",
    "resource",
    "resource_type",
    "operation",
    "description",
    "success",
    "client_address",
    "op_time",
    "event_id",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="hpy_audit_bench")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--pulls", type=int, default=20_000, help="record_pull calls per variant")
    parser.add_argument("--pull-events", type=int, default=50_000)
    parser.add_argument("--gate-gets", type=int, default=1000, help="manifest GETs per variant")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--out", default=str(REPO_ROOT / "data" / "bench" / "audit.json"))
    return parser.parse_args(argv)


# -- database -----------------------------------------------------------------------------


def recreate_database(pg: str, name: str) -> None:
    admin = psycopg.connect(f"{pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def drop_database(pg: str, name: str) -> None:
    from django.db import connections

    connections.close_all()
    admin = psycopg.connect(f"{pg}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def setup_django(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.database}"
    os.environ["REDIS_URL"] = args.redis
    os.environ.setdefault("HARBOR_DATA_DIR", tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ["HARBOR_CACHE_PREFIX"] = f"bench-audit-{os.getpid()}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "harbor_py.settings"
    import django

    django.setup()
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True  # no broker needed
    settings.ALLOWED_HOSTS = ["*"]
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.keys import generate_signing_material

    generate_signing_material(
        settings.HARBOR["TOKEN_KEY_PATH"],
        settings.HARBOR["TOKEN_CERT_PATH"],
        settings.HARBOR["TOKEN_ISSUER"],
    )


def make_people(projects: int) -> dict[str, Any]:
    from accounts.models import User
    from projects.models import Project, ProjectMember
    from projects.roles import Role

    admin = User.objects.create(username="admin", email="admin@example.com", is_superuser=True)
    padmin = User.objects.create(username="padmin", email="padmin@example.com")
    created = Project.objects.bulk_create(
        Project(name=f"project-{i:04d}", owner=admin) for i in range(projects)
    )
    administered = [created[0], created[projects // 4], created[(3 * projects) // 4]]
    ProjectMember.objects.bulk_create(
        ProjectMember(project=p, user=padmin, role=Role.PROJECT_ADMIN) for p in administered
    )
    return {"admin": admin, "padmin": padmin, "projects": created, "administered": administered}


class RowStream(io.RawIOBase):
    """COPY ... FROM STDIN source that generates rows on demand (no 1 GB file)."""

    def __init__(self, rows: Iterator[str]) -> None:
        self._rows = rows
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = "".join(line for _, line in zip(range(5000), self._rows, strict=False))
            if not chunk:
                break
            self._buffer += chunk.encode()
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


def generate_rows(count: int, projects: list[Any], seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    weights = [1 / (k + 1) for k in range(len(projects))]
    cumulative, total = [], 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    project_of = [(p.pk, p.name) for p in projects]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS)
    step = DAYS * 86400 / count
    kinds = (
        [("pull", "artifact")] * 80
        + [("create", "artifact")] * 9
        + [("delete", "artifact")] * 2
        + [("create", "tag")] * 2
        + [("delete", "tag")] * 1
        + [("login", "user")] * 5
        + [("update", "project")] * 1
    )
    for i in range(count):
        operation, resource_type = kinds[rng.randrange(len(kinds))]
        user = f"user{int(USERS * rng.random() ** 2):04d}"
        when = (start + dt.timedelta(seconds=i * step)).isoformat()
        address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if resource_type == "user":
            ok = "t" if rng.random() > 0.1 else "f"
            yield f"{user}\t\\N\t\t{user}\tuser\tlogin\t\t{ok}\t{address}\t{when}\t\\N\n"
            continue
        project_id, project_name = project_of[_bisect(cumulative, rng.random() * total)]
        if resource_type == "project":
            resource = project_name
        else:
            resource = f"{project_name}/app-{rng.randrange(50)}:v{rng.randrange(100)}"
        event_id = uuid.UUID(int=rng.getrandbits(128)).hex if operation == "pull" else "\\N"
        yield (
            f"{user}\t{project_id}\t{project_name}\t{resource}\t{resource_type}\t{operation}"
            f"\t\tt\t{address}\t{when}\t{event_id}\n"
        )


def _bisect(cumulative: list[float], value: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def load_rows(count: int, projects: list[Any]) -> dict[str, float]:
    from django.db import connection

    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_log' "
            "AND indexname <> 'audit_log_pkey'"
        )
        indexes = cursor.fetchall()
        # (the partial unique index on event_id is among them: rebuilt, so checked, after)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        started = time.perf_counter()
        stream = RowStream(generate_rows(count, projects))
        with cursor.copy(f"COPY audit_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        timings["copy_s"] = time.perf_counter() - started
        log(f"copied {count} rows in {timings['copy_s']:.0f} s; rebuilding {len(indexes)} indexes")
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        timings["index_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE audit_log")  # Django runs in autocommit mode
        cursor.execute("SELECT pg_total_relation_size('audit_log'), pg_relation_size('audit_log')")
        total, heap = cursor.fetchone()
    timings["vacuum_s"] = time.perf_counter() - started
    timings["table_mb"] = heap / 2**20
    timings["table_and_indexes_mb"] = total / 2**20
    return timings


# -- measuring ----------------------------------------------------------------------------


def timed(call: Callable[[], Any], repeat: int, warmup: int = 3) -> tuple[list[float], Any]:
    result = None
    for _ in range(warmup):
        result = call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": percentile(samples, 0.95),
        "max_ms": max(samples),
    }


def measure_api(people: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    from django.test import Client

    admin, padmin = Client(), Client()
    admin.force_login(people["admin"])
    padmin.force_login(people["padmin"])
    small = people["administered"][2].name
    day_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    cases = [
        ("sysadmin page 1", admin, "/api/v2.0/auditlog-exts", {}),
        ("sysadmin page 1 (100)", admin, "/api/v2.0/auditlog-exts", {"page_size": 100}),
        ("sysadmin page 1 /audit-logs", admin, "/api/v2.0/audit-logs", {}),
        ("sysadmin page 100", admin, "/api/v2.0/auditlog-exts", {"page": 100}),
        ("project admin page 1", padmin, "/api/v2.0/auditlog-exts", {}),
        ("project view page 1", padmin, f"/api/v2.0/projects/{small}/auditlog-exts", {}),
        ("filter username", admin, "/api/v2.0/auditlog-exts", {"q": "username=user1500"}),
        (
            "filter op+type",
            admin,
            "/api/v2.0/auditlog-exts",
            {"q": "operation=delete,resource_type=tag"},
        ),
        (
            "filter failed logins",
            admin,
            "/api/v2.0/auditlog-exts",
            {"q": "operation=login,operation_result=false"},
        ),
        ("filter last day", admin, "/api/v2.0/auditlog-exts", {"q": f"op_time=[{day_ago}~]"}),
        ("filter resource~", admin, "/api/v2.0/auditlog-exts", {"q": "resource=~app-17:v42"}),
        (
            "project admin + filter",
            padmin,
            "/api/v2.0/auditlog-exts",
            {"q": "operation=create,resource_type=artifact"},
        ),
    ]
    results = []
    for name, client, url, params in cases:

        def call(client: Client = client, url: str = url, params: dict = params) -> Any:
            response = client.get(url, params)
            assert response.status_code == 200, (url, response.status_code, response.content[:300])
            return response

        samples, response = timed(call, repeat)
        row = {
            "case": name,
            "url": url,
            "params": params,
            **summary(samples),
            "rows": len(response.json()),
            "x_total_count": int(response["X-Total-Count"]),
        }
        results.append(row)
        log(f"{name:28} median {row['median_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms")
    return results


def measure_counts() -> dict[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            cursor.execute("SELECT count(*) FROM audit_log")
            cursor.fetchone()
            samples.append((time.perf_counter() - started) * 1000)
    return {"exact_count_all_ms": statistics.median(samples)}


def measure_export(people: dict[str, Any]) -> dict[str, float]:
    from django.test import Client

    client = Client()
    client.force_login(people["admin"])
    started = time.perf_counter()
    response = client.get("/api/v2.0/auditlog-exts/export", {"q": "operation=create"})
    stream = iter(response.streaming_content)
    next(stream)
    first = (time.perf_counter() - started) * 1000
    lines = 0
    for _ in stream:
        lines += 1
        if lines >= 100_000:
            break
    elapsed = time.perf_counter() - started
    response.close()
    return {"export_first_line_ms": first, "export_rows_per_s": lines / elapsed}


def measure_pulls(people: dict[str, Any], calls: int, events: int) -> dict[str, float]:
    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory

    from accounts.keys import generate_signing_material
    from accounts.tokens import Scope, mint
    from registry import pulls
    from registry.models import Artifact, Repository

    generate_signing_material(
        settings.HARBOR["TOKEN_KEY_PATH"],
        settings.HARBOR["TOKEN_CERT_PATH"],
        settings.HARBOR["TOKEN_ISSUER"],
    )
    project = people["projects"][0]
    repository = Repository.objects.create(project=project, name=f"{project.name}/bench")
    artifact = Artifact.objects.create(
        repository=repository,
        digest="sha256:" + "ab" * 32,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=1,
    )
    token, _, _ = mint("alice", [Scope("repository", repository.name, frozenset({"pull"}))])
    request = RequestFactory().get(
        "/v2/x/manifests/latest", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_X_REAL_IP="10.0.0.1"
    )
    event = pulls.PullEvent.of(request, repository, artifact, None)  # warms the token cache
    client = pulls._redis()
    client.delete(*(pulls._key(k) for k in (*pulls.KINDS, pulls.EVENTS)))

    def run(with_event: bool) -> float:
        started = time.perf_counter()
        for _ in range(calls):
            pulls.record_pull(
                repository_id=repository.pk,
                artifact_id=artifact.pk,
                event=pulls.PullEvent.of(request, repository, artifact, None)
                if with_event
                else None,
            )
        return (time.perf_counter() - started) / calls * 1e6

    variants: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(3):  # interleaved
        variants["without"].append(run(False))
        variants["with"].append(run(True))
    started = time.perf_counter()
    for _ in range(calls):
        pulls.PullEvent.of(request, repository, artifact, None)
    build_us = (time.perf_counter() - started) / calls * 1e6
    client.delete(*(pulls._key(k) for k in (*pulls.KINDS, pulls.EVENTS)))

    pipe = client.pipeline(transaction=False)
    now = f"{time.time():.6f}"
    for i in range(events):
        pipe.rpush(pulls._key(pulls.EVENTS), event.encode(now))
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    started = time.perf_counter()
    result = pulls.aggregate()
    aggregate_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_log WHERE operation = 'pull' AND username = 'alice'"
        )
        inserted = cursor.fetchone()[0]
    return {
        "record_pull_without_event_us": statistics.median(variants["without"]),
        "record_pull_with_event_us": statistics.median(variants["with"]),
        "pull_event_build_us": build_us,
        "audit_overhead_per_pull_us": statistics.median(variants["with"])
        - statistics.median(variants["without"]),
        "aggregate_events": result.get("audit", 0),
        "aggregate_s": aggregate_s,
        "aggregate_rows_per_s": result.get("audit", 0) / aggregate_s if aggregate_s else 0.0,
        "inserted_pull_rows": inserted,
    }


def measure_gate(people: dict[str, Any], repeat: int) -> dict[str, float] | None:
    """Manifest GETs through the gate against a real distribution (unix socket), with and
    without the audit event, interleaved in rounds."""
    import shutil
    import subprocess

    from django.conf import settings
    from django.test import Client

    from registry import pulls, upstream
    from tests.distribution import bearer, push_image
    from tests.distribution_plugin import BINARY, CONFIG

    if not os.path.exists(BINARY):
        log("docker-registry not installed: skipping the gate measurement")
        return None
    base = Path(tempfile.mkdtemp(prefix="bench-audit-registry-"))
    sock = base / "registry.sock"
    (base / "config.yml").write_text(
        CONFIG.format(
            root=base / "storage",
            socket=sock,
            service=settings.HARBOR["TOKEN_SERVICE"],
            issuer=settings.HARBOR["TOKEN_ISSUER"],
            cert=settings.HARBOR["TOKEN_CERT_PATH"],
        )
    )
    process = subprocess.Popen(
        [BINARY, "serve", str(base / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        settings.HARBOR = {**settings.HARBOR, "REGISTRY_URL": f"unix://{sock}"}
        upstream.reset_client()
        repository = f"{people['projects'][1].name}/gate"
        push_image("admin", repository, "v1")
        token = bearer("alice", repository, {"pull"})
        client = Client(HTTP_X_REAL_IP="10.0.0.1")
        accept = "application/vnd.oci.image.manifest.v1+json"
        url = f"/v2/{repository}/manifests/v1"
        real_of = pulls.PullEvent.of

        def get() -> None:
            response = client.get(url, HTTP_AUTHORIZATION=token, HTTP_ACCEPT=accept)
            assert response.status_code == 200, response.content[:200]

        rounds: dict[str, list[float]] = {"with": [], "without": []}
        for _ in range(5):
            for variant in ("without", "with"):
                pulls.PullEvent.of = (  # type: ignore[method-assign]  # swapped for the round
                    real_of if variant == "with" else staticmethod(lambda *a, **k: None)
                )
                samples, _ = timed(get, max(repeat // 5, 20), warmup=10)
                rounds[variant].extend(samples)
        pulls.PullEvent.of = real_of  # type: ignore[method-assign]  # put back
        pulls.aggregate()
        return {
            "gate_get_without_event_ms": statistics.median(rounds["without"]),
            "gate_get_with_event_ms": statistics.median(rounds["with"]),
            "gate_get_p95_without_ms": percentile(rounds["without"], 0.95),
            "gate_get_p95_with_ms": percentile(rounds["with"], 0.95),
            "gate_gets": len(rounds["with"]) + len(rounds["without"]),
        }
    finally:
        process.terminate()
        process.wait(timeout=10)
        upstream.reset_client()
        shutil.rmtree(base, ignore_errors=True)


# -- main -----------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    print()
    print(
        f"audit log: {result['rows']:,} rows, {result['load']['table_and_indexes_mb']:.0f} MB "
        f"with indexes (load {result['load']['copy_s']:.0f} s + indexes "
        f"{result['load']['index_s']:.0f} s)"
    )
    print(f"{'call':30} {'median ms':>10} {'p95 ms':>10} {'max ms':>10} {'X-Total-Count':>14}")
    for row in result["api"]:
        print(
            f"{row['case']:30} {row['median_ms']:10.1f} {row['p95_ms']:10.1f} "
            f"{row['max_ms']:10.1f} {row['x_total_count']:14,}"
        )
    counts = result["counts"]
    print(f"exact SELECT count(*) of the whole log: {counts['exact_count_all_ms']:.0f} ms")
    export = result["export"]
    print(
        f"CSV export: first line after {export['export_first_line_ms']:.0f} ms, "
        f"{export['export_rows_per_s']:,.0f} rows/s"
    )
    pull = result["pulls"]
    print(
        f"record_pull: {pull['record_pull_without_event_us']:.0f} us without the audit event, "
        f"{pull['record_pull_with_event_us']:.0f} us with it "
        f"(overhead {pull['audit_overhead_per_pull_us']:.0f} us; building the event "
        f"{pull['pull_event_build_us']:.0f} us)"
    )
    print(
        f"aggregation: {pull['aggregate_events']:,} queued pull events into the log in "
        f"{pull['aggregate_s']:.2f} s ({pull['aggregate_rows_per_s']:,.0f} rows/s)"
    )
    gate = result.get("gate")
    if gate:
        print(
            f"manifest GET through the gate ({gate['gate_gets']} GETs, interleaved): median "
            f"{gate['gate_get_without_event_ms']:.2f} ms without the audit event, "
            f"{gate['gate_get_with_event_ms']:.2f} ms with it (p95 "
            f"{gate['gate_get_p95_without_ms']:.2f} / {gate['gate_get_p95_with_ms']:.2f} ms)"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log(f"creating database {args.database}")
    recreate_database(args.pg, args.database)
    setup_django(args)
    try:
        people = make_people(args.projects)
        log(f"loading {args.rows:,} rows")
        load = load_rows(args.rows, people["projects"])
        result: dict[str, Any] = {
            "rows": args.rows,
            "projects": args.projects,
            "repeat": args.repeat,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "load": load,
        }
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            result["machine"]["postgresql"] = cursor.fetchone()[0]
            cursor.execute("SHOW shared_buffers")
            result["machine"]["shared_buffers"] = cursor.fetchone()[0]
        result["api"] = measure_api(people, args.repeat)
        result["counts"] = measure_counts()
        result["export"] = measure_export(people)
        result["pulls"] = measure_pulls(people, args.pulls, args.pull_events)
        result["gate"] = measure_gate(people, args.gate_gets)
        print_report(result)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        log(f"results in {out}")
    finally:
        if not args.keep:
            drop_database(args.pg, args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
