"""Tag retention benchmark (issue #25): dry runs and real runs over Harbor's "small" data
set and over one repository with 20,000 tags, and push throughput during a real run
against without one.

    .venv/bin/python -m bench.bench_retention            # the whole set (make bench)
    .venv/bin/python -m bench.bench_retention --projects 1 --repositories 10 \
        --big-keep 18500 --rounds 5 --push-seconds 4     # the push ratio alone, ~2 minutes

data     --projects x --repositories x --artifacts x --tags (Harbor's small set: 100 x 100
         x 10 x 5 = 100,000 artifacts, 500,000 tags), bulk SQL (COPY, INSERT ... SELECT)
         into a fresh PostgreSQL database (hpy_bench_retention), pushed one minute apart;
         one more project with one repository of --big artifacts of one tag each. Every
         artifact references a config and a layer of its own and its project's base layer
         (the quota sums them). Every project has Harbor's policy "keep the latest K pushed
         (K = --keep), and every release-*".
dry run  every project's policy, run as the job runs it (retention.runs.run): the wall
         time, this process's CPU time, per artifact; then the big repository's.
pushes   --rounds interleaved rounds: pushes alone for --push-seconds, then pushes during
         a real run of the big repository (each round's run deletes (--big - --big-keep)
         / --rounds artifacts, each re-checked under its lock and deleted from a real
         distribution, which answers 404 for manifests it never stored), ... and alone
         again at the end. A separate process records pushes (registry.services.
         record_manifest_push, the database side of a push: repository and artifact rows,
         the quota row, the tag, audit) into big/pushed from 2 threads: the same project,
         so the same quota row, as the deletes. A round's ratio: pushes per second during
         the run / the mean of the alone windows around it; the goal: median >= 0.9.
         Each run is sampled every 20 ms in pg_stat_activity (pushes waiting for a lock,
         for the run's backend, on the quota row) and its backend's CPU read from /proc.
         The run goes in a thread at CPU priority --worker-nice (default 10: the
         instance's HARBOR_WORKER_NICE), as a worker runs it; its CPU is that thread's.
real run the small set's every project (--real-projects: fewer), after the rounds.

Results on stdout, JSON with --out. Take figures on a quiet machine (quietrun).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.stack import PG_DSN, drop_database, recreate_database

DATABASE = "hpy_bench_retention"
GOAL = 0.9
# The instance's default HARBOR_WORKER_NICE (docs/deployment.md): background jobs yield
# the CPU to the data path. The bench runs the real runs as such a worker would.
WORKER_NICE = 10


def _setup_django(data_dir: Path, *, create: bool) -> None:
    url = recreate_database(DATABASE) if create else PG_DSN.rsplit("/", 1)[0] + f"/{DATABASE}"
    os.environ["DATABASE_URL"] = url
    os.environ["HARBOR_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbor_py.settings_test")
    import django

    django.setup()
    if create:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


def _copy(table: str, columns: tuple[str, ...], rows: Any) -> None:
    from bench import bench_gc

    bench_gc._copy(table, columns, rows)


def _seed(projects: int, repositories: int, artifacts: int, tags: int, big: int) -> dict[str, Any]:
    from django.db import connection

    from accounts.models import User
    from harbor_py.management.commands.seed import ARTIFACT_COLUMNS
    from projects.models import Project
    from registry.models import Repository

    started = time.perf_counter()
    owner = User.objects.create(username="bench-owner", email="bench@example.com")
    made = Project.objects.bulk_create(
        [Project(name=f"p{p:03d}", owner=owner) for p in range(projects)]
        + [Project(name="big", owner=owner)]
    )
    repos = Repository.objects.bulk_create(
        [
            Repository(project=project, name=f"{project.name}/r{r:03d}")
            for project in made[:-1]
            for r in range(repositories)
        ]
        + [Repository(project=made[-1], name="big/app")]
    )

    def row(repository_id: int, a: int) -> tuple[str, ...]:
        """Artifact `a` of a repository, pushed `a` minutes after the first."""
        hour = a // 60
        pushed = f"2026-01-{1 + hour // 24:02d} {hour % 24:02d}:{a % 60:02d}:00+00"
        digest = f"sha256:{repository_id:032x}{a:032x}"
        return (str(repository_id), digest, "IMAGE", "x", "y", "", "", "0", "{}", "{}", pushed)

    def artifact_rows() -> Any:
        for repo in repos[:-1]:
            for a in range(artifacts):
                yield row(repo.pk, a)
        for a in range(big):
            yield row(repos[-1].pk, a)

    _copy("artifact", ARTIFACT_COLUMNS, artifact_rows())
    with connection.cursor() as cursor:
        # tags: t<k> on every artifact (k < tags), a release-<n> on the first of each repository
        cursor.execute(
            "INSERT INTO tag (repository_id, artifact_id, name, push_time) "
            "SELECT a.repository_id, a.id, 'v' || a.id || '-' || k, a.push_time "
            "FROM artifact a CROSS JOIN generate_series(0, %s) k WHERE a.repository_id <> %s",
            [tags - 1, repos[-1].pk],
        )
        cursor.execute(
            "INSERT INTO tag (repository_id, artifact_id, name, push_time) "
            "SELECT repository_id, id, 'build-' || id, push_time FROM artifact "
            "WHERE repository_id = %s",
            [repos[-1].pk],
        )
        cursor.execute(
            "UPDATE tag SET name = 'release-' || artifact_id WHERE id IN ("
            "SELECT MIN(t.id) FROM tag t JOIN artifact a ON a.id = t.artifact_id "
            "GROUP BY t.repository_id)"
        )
        # blobs, as pushed images have them: a config and a layer of each artifact's own and
        # a base layer every artifact of the project shares (the quota sums them)
        cursor.execute(
            "INSERT INTO blob (digest, content_type, size, status, version, creation_time, "
            "update_time) SELECT 'sha256:' || k || lpad(to_hex(a.id), 63, '0'), 'x', "
            "CASE k WHEN 'c' THEN 1500 ELSE 1000000 + a.id END, 'none', 0, now(), now() "
            "FROM artifact a CROSS JOIN (VALUES ('c'), ('d')) v(k)"
        )
        cursor.execute(
            "INSERT INTO blob (digest, content_type, size, status, version, creation_time, "
            "update_time) SELECT 'sha256:e' || lpad(to_hex(id), 63, '0'), 'x', 30000000, "
            "'none', 0, now(), now() FROM project"
        )
        cursor.execute(
            "INSERT INTO artifact_blob (artifact_id, blob_id) "
            "SELECT a.id, b.id FROM artifact a CROSS JOIN (VALUES ('c'), ('d')) v(k) "
            "JOIN blob b ON b.digest = 'sha256:' || k || lpad(to_hex(a.id), 63, '0')"
        )
        cursor.execute(
            "INSERT INTO artifact_blob (artifact_id, blob_id) "
            "SELECT a.id, b.id FROM artifact a JOIN repository r ON r.id = a.repository_id "
            "JOIN blob b ON b.digest = 'sha256:e' || lpad(to_hex(r.project_id), 63, '0')"
        )
        cursor.execute(
            "INSERT INTO quota (project_id, hard, used, creation_time, update_time) "
            "SELECT id, -1, 0, now(), now() FROM project ON CONFLICT DO NOTHING"
        )
        cursor.execute(
            "UPDATE quota q SET used = (SELECT COALESCE(SUM(b.size), 0) FROM blob b WHERE b.id "
            "IN (SELECT ab.blob_id FROM artifact_blob ab JOIN artifact a ON a.id = ab.artifact_id "
            "JOIN repository r ON r.id = a.repository_id WHERE r.project_id = q.project_id))"
        )
        cursor.execute(
            "ANALYZE artifact; ANALYZE tag; ANALYZE repository; ANALYZE blob; ANALYZE artifact_blob"
        )
        cursor.execute("SELECT COUNT(*) FROM artifact_blob")
        references = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM tag")
        tag_count = cursor.fetchone()[0]
    return {
        "projects": projects,
        "repositories": projects * repositories,
        "artifacts": projects * repositories * artifacts,
        "big_repository_tags": big,
        "tags": tag_count,
        "blob_references": references,
        "seed_seconds": round(time.perf_counter() - started, 1),
    }


def _policy(project_name: str, keep: int, repositories: str = "**") -> Any:
    from harbor_py.core.actor import Actor
    from projects.models import Project
    from retention import services

    every = [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repositories}]
    rules = [
        {
            "template": "latestPushedK",
            "params": {"latestPushedK": keep},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
            "scope_selectors": {"repository": every},
        },
        {
            "template": "always",
            "tag_selectors": [
                {"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}
            ],
            "scope_selectors": {"repository": every},
        },
    ]
    project = Project.objects.get(name=project_name)
    return services.create_policy(
        project=project, data={"rules": rules}, actor=Actor(username="bench")
    )


def _run(policy: Any, *, dry_run: bool) -> dict[str, Any]:
    """One run, as the worker runs it (in this thread); wall and CPU seconds (this
    thread's: the sampler's aside)."""
    from jobs import runner
    from jobs.models import Execution, Task

    execution = Execution.objects.create(
        vendor_type="RETENTION",
        vendor_id=policy.pk,
        parameters={"policy_id": policy.pk, "dry_run": dry_run},
    )
    task = Task.objects.create(execution=execution)
    wall, cpu = time.perf_counter(), time.thread_time()
    runner.run(task.pk)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    execution.refresh_from_db()
    if execution.status != "Success":
        raise RuntimeError(f"retention run {execution.pk}: {execution.status_message}")
    return {"wall_seconds": wall, "cpu_seconds": cpu, **execution.extra_attrs}


def _pusher(seconds: float, out: Path) -> None:
    """The pushing process: 2 threads record pushes into big/pushed for `seconds` or until
    `<out>.stop` exists; writes each push's end time (epoch seconds)."""
    from django.db import connection

    from harbor_py.core.actor import Actor
    from projects.models import Project
    from registry import services
    from tests.integration.registry_data import parsed_image

    project = Project.objects.get(name="big")
    stamps: list[list[float]] = [[], []]
    stop = time.monotonic() + seconds
    stop_file = Path(f"{out}.stop")
    salt = os.getpid()

    def push(worker: int) -> None:
        try:
            while time.monotonic() < stop and not stop_file.exists():
                n = len(stamps[worker])
                services.record_manifest_push(
                    project=project,
                    repository_name="big/pushed",
                    parsed=parsed_image(f"{salt}-{worker}-{n}"),
                    tag=f"{salt}-{worker}-{n}",
                    actor=Actor(username="pusher"),
                )
                stamps[worker].append(time.time())
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(w,)) for w in range(2)]
    cpu, started = time.process_time(), time.time()
    for thread in threads:
        thread.start()
    Path(f"{out}.ready").write_text(str(started))
    for thread in threads:
        thread.join()
    ended = time.time()
    out.write_text(
        json.dumps(
            {
                "started": started,
                "ended": ended,
                "stamps": sorted(stamps[0] + stamps[1]),
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    )


class _Sampler(threading.Thread):
    """Samples pg_stat_activity every 20 ms while a run goes: how often a pushing
    backend waits for a lock, for the run's backend, on the quota row."""

    QUOTA_LOCK = "SELECT id, hard, used FROM quota"
    SQL = (
        "SELECT pid, state, wait_event_type, left(query, 40), pg_blocking_pids(pid) "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, dsn: str, run_pid: int) -> None:
        super().__init__(daemon=True)
        self.dsn, self.run_pid = dsn, run_pid
        self.done = threading.Event()
        self.counts = dict.fromkeys(
            ("samples", "push_active", "push_lock_wait", "by_run", "on_quota_row", "run_in_tx"),
            0,
        )

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.done.wait(0.02):
                c = self.counts
                c["samples"] += 1
                for pid, state, wait_type, query, blockers in conn.execute(self.SQL):
                    if pid == self.run_pid:
                        c["run_in_tx"] += state in ("active", "idle in transaction")
                        continue
                    if state != "active":
                        continue
                    c["push_active"] += 1
                    if wait_type == "Lock":
                        c["push_lock_wait"] += 1
                        c["by_run"] += self.run_pid in (blockers or [])
                        c["on_quota_row"] += (query or "").startswith(self.QUOTA_LOCK)

    def summary(self) -> dict[str, float]:
        c, active = self.counts, max(self.counts["push_active"], 1)
        return {
            "samples": c["samples"],
            "push_waiting_for_a_lock": round(c["push_lock_wait"] / active, 3),
            "push_waiting_for_the_run": round(c["by_run"] / active, 3),
            "push_waiting_on_the_quota_row": round(c["on_quota_row"] / active, 3),
            "run_backend_busy": round(c["run_in_tx"] / max(c["samples"], 1), 3),
        }


def _backend_cpu(pid: int) -> float:
    """CPU seconds of a local PostgreSQL backend (utime + stime), 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _push_window(seconds: float, data_dir: Path, during: Any = None) -> dict[str, Any]:
    """Pushes from a child process: alone for `seconds`, or while `during()` runs here;
    the rate is counted over the window (the run's span for `during`)."""
    out = data_dir / f"push-{time.monotonic_ns()}.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bench_retention",
            "--pusher",
            str(seconds if during is None else 3600),
            "--pusher-out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
        env={**os.environ},
    )
    result: dict[str, Any] = {}
    window = None
    if during is not None:
        ready = Path(f"{out}.ready")
        while not ready.exists() and child.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # both pushing threads past their first push
        began = time.time()
        result["run"] = during()
        window = (began, time.time())
        Path(f"{out}.stop").write_text("")
    if child.wait() != 0:
        raise RuntimeError("the pushing process failed")
    pushed = json.loads(out.read_text())
    first, last = window or (pushed["started"], pushed["ended"])
    count = sum(1 for t in pushed["stamps"] if first <= t <= last)
    result.update(
        pushes=count,
        seconds=round(last - first, 2),
        per_second=count / max(last - first, 1e-6),
        cpu_ms_per_push=round(1000 * pushed["cpu_seconds"] / max(len(pushed["stamps"]), 1), 2),
    )
    return result


def _brief(alone: list[dict[str, Any]], during: dict[str, Any]) -> str:
    """A round's figures as it ends (a run cut short still says what it measured)."""
    run = during["run"]
    rates = [round(w["per_second"], 1) for w in (alone[0], during, alone[1])]
    return (
        f"pushes/s alone, during, alone {rates}; run {run['wall_seconds']:.1f} s, "
        f"{run['deleted']} deleted, {run['locks']}"
    )


def _set_keep(policy: Any, keep: int) -> None:
    """The big repository's policy keeps the latest `keep` pushed from now on."""
    rules = policy.rules
    rules[0]["params"] = {"latestPushedK": keep}
    type(policy).objects.filter(pk=policy.pk).update(rules=rules)
    policy.refresh_from_db()


def _during_run(policy: Any, nice: int) -> dict[str, Any]:
    """The big repository's real run, its backend sampled. The run goes in a thread at CPU
    priority `nice` (Linux sets it per thread), as a worker started under `nice -n
    HARBOR_WORKER_NICE` runs it (harbor_py.processes); its PostgreSQL backend, the
    sampler and the pushers keep the default priority, as in an instance."""
    from django.db import connection

    started, go = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            if nice:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            connection.ensure_connection()
            result["pid"] = connection.connection.info.backend_pid
            started.set()
            go.wait()
            result["run"] = _run(policy, dry_run=False)
            result["backend_after"] = _backend_cpu(result["pid"])  # before the backend exits
        except BaseException as exc:
            result["error"] = exc
        finally:
            started.set()
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    started.wait()
    pid = result.get("pid", 0)
    sampler = _Sampler(os.environ["DATABASE_URL"], pid)
    backend = _backend_cpu(pid)
    sampler.start()
    go.set()
    thread.join()
    sampler.done.set()
    sampler.join()
    if "error" in result:
        raise result["error"]
    run = result["run"]
    run["backend_cpu_seconds"] = result["backend_after"] - backend
    run["locks"] = sampler.summary()
    run["nice"] = nice
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--artifacts", type=int, default=10)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--big", type=int, default=20_000, help="tags in the big repository")
    # keep 8 of 10, and the oldest (release-*): one delete per repository, 10,000 in all
    parser.add_argument("--keep", type=int, default=8, help="latestPushedK of the small set")
    parser.add_argument(
        "--big-keep", type=int, default=18_500, help="latestPushedK of the big repository"
    )
    parser.add_argument(
        "--real-projects", type=int, help="real run over this many projects (default: all)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved push rounds")
    parser.add_argument("--push-seconds", type=float, default=5, help="each alone window")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="HARBOR_RETENTION_PACE of the real runs"
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=WORKER_NICE,
        help=f"CPU priority of the real runs, as HARBOR_WORKER_NICE ({WORKER_NICE})",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--pusher", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--pusher-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pusher is not None:
        _setup_django(args.data_dir, create=False)
        _pusher(args.pusher, args.pusher_out)
        return 0

    data_dir = Path(tempfile.mkdtemp(prefix="bench-retention-"))
    try:
        _setup_django(data_dir, create=True)
        from django.conf import settings

        from accounts.keys import generate_signing_material
        from registry import upstream
        from tests.distribution_process import gated_config, serving

        generate_signing_material(
            settings.HARBOR["TOKEN_KEY_PATH"],
            settings.HARBOR["TOKEN_CERT_PATH"],
            settings.HARBOR["TOKEN_ISSUER"],
        )
        load = os.getloadavg()
        print(f"database {DATABASE}; load average {load[0]:.1f} (shared machine)", flush=True)
        data = _seed(args.projects, args.repositories, args.artifacts, args.tags, args.big)
        print(f"data: {json.dumps(data)}", flush=True)
        small = [_policy(f"p{p:03d}", args.keep) for p in range(args.projects)]
        big = _policy("big", args.big_keep, "app")  # not big/pushed, the pushers'
        os.environ["HARBOR_RETENTION_PACE"] = str(args.pace)

        results: dict[str, Any] = {"data": data, "load_average": load, "pace": args.pace}
        results["worker_nice"] = args.worker_nice
        runs = [_run(p, dry_run=True) for p in small]
        artifacts = sum(r["total"] for r in runs)
        cpu = sum(r["cpu_seconds"] for r in runs)
        results["dry_run_small"] = {
            "artifacts": artifacts,
            "would_delete": sum(r["deleted"] for r in runs),
            "wall_seconds": round(sum(r["wall_seconds"] for r in runs), 2),
            "cpu_seconds": round(cpu, 2),
            "cpu_ms_per_artifact": round(1000 * cpu / max(artifacts, 1), 3),
        }
        print(f"dry run, small set: {results['dry_run_small']}", flush=True)
        dry_big = _run(big, dry_run=True)
        results["dry_run_big"] = {
            k: round(v, 2) if isinstance(v, float) else v for k, v in dry_big.items()
        }
        print(f"dry run, big repository: {results['dry_run_big']}", flush=True)

        socket = data_dir / "registry.sock"
        config = gated_config(f"  filesystem: {{rootdirectory: {data_dir / 'storage'}}}", socket)
        per_round = (args.big - args.big_keep) // args.rounds
        with serving(data_dir / ".", config, ready=socket.exists):
            settings.HARBOR = {**settings.HARBOR, "REGISTRY_URL": f"unix://{socket}"}
            upstream.reset_client()
            alone = [_push_window(args.push_seconds, data_dir)]
            during = []
            for i in range(args.rounds):
                _set_keep(big, args.big - (i + 1) * per_round)
                run = lambda: _during_run(big, args.worker_nice)  # noqa: E731
                during.append(_push_window(0, data_dir, during=run))
                alone.append(_push_window(args.push_seconds, data_dir))
                print(f"round {i + 1} done: {_brief(alone[-2:], during[-1])}", flush=True)
            small_real = small if args.real_projects is None else small[: args.real_projects]
            real = [_run(p, dry_run=False) for p in small_real]
        rounds = []
        for i, window in enumerate(during):
            run = window.pop("run")
            baseline = (alone[i]["per_second"] + alone[i + 1]["per_second"]) / 2
            rounds.append(
                {
                    "ratio": round(window["per_second"] / baseline, 3) if baseline else 0.0,
                    "pushes_per_second": {
                        "alone_before": round(alone[i]["per_second"], 1),
                        "during": round(window["per_second"], 1),
                        "alone_after": round(alone[i + 1]["per_second"], 1),
                    },
                    "cpu_ms_per_push": {
                        "alone": alone[i]["cpu_ms_per_push"],
                        "during": window["cpu_ms_per_push"],
                    },
                    "run_wall_seconds": round(run["wall_seconds"], 2),
                    "deleted": run["deleted"],
                    "cpu_ms_per_delete": round(
                        1000 * run["cpu_seconds"] / max(run["deleted"], 1), 2
                    ),
                    "backend_cpu_ms_per_delete": round(
                        1000 * run["backend_cpu_seconds"] / max(run["deleted"], 1), 2
                    ),
                    "deletes_per_second": round(run["deleted"] / max(run["wall_seconds"], 1e-6), 1),
                    "locks": run["locks"],
                }
            )
            print(f"round {i + 1}: {json.dumps(rounds[-1])}", flush=True)
        ratio = statistics.median(r["ratio"] for r in rounds)
        results["real_run_big"] = {
            "rounds": rounds,
            "median_ratio": ratio,
            "median_run_wall_seconds": statistics.median(r["run_wall_seconds"] for r in rounds),
            "median_deletes_per_second": statistics.median(r["deletes_per_second"] for r in rounds),
        }
        real_cpu = sum(r["cpu_seconds"] for r in real)
        real_deleted = sum(r["deleted"] for r in real)
        results["real_run_small"] = {
            "projects": len(real),
            "deleted": real_deleted,
            "wall_seconds": round(sum(r["wall_seconds"] for r in real), 2),
            "cpu_seconds": round(real_cpu, 2),
            "cpu_ms_per_delete": round(1000 * real_cpu / max(real_deleted, 1), 2),
        }
        print(f"real run, small set: {results['real_run_small']}", flush=True)
        print(
            f"pushes during the big repository's real run / alone, median of {args.rounds} "
            f"rounds: {ratio:.3f} (goal >= {GOAL}); the run's wall time, median: "
            f"{results['real_run_big']['median_run_wall_seconds']} s for {per_round} deletes",
            flush=True,
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        results["child_cpu_seconds"] = round(children.ru_utime + children.ru_stime, 2)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
        return 0 if ratio >= GOAL else 1
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DATABASE)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
