"""Tag retention benchmark (issue #25): dry runs and real runs over Harbor's "small" data
set and over one repository with 20,000 tags, and push throughput during real runs
against without one.

    .venv/bin/python -m bench.bench_retention            # both data sets (make bench)
    .venv/bin/python -m bench.bench_retention --big 0 --deadline 330
                                                         # the small set alone, < 6 minutes
    .venv/bin/python -m bench.bench_retention --projects 1 --repositories 10 \
        --big-keep 19600 --rounds 5 --push-seconds 3     # the big repository's push ratio

data     --projects x --repositories x --artifacts x --tags (Harbor's small set: 100 x 100
         x 10 x 5 = 100,000 artifacts, 500,000 tags), bulk SQL (COPY, INSERT ... SELECT)
         into a fresh PostgreSQL database (hpy_bench_retention, copied from the migrated
         template), pushed one minute apart; one more project with one repository of
         --big artifacts of one tag each (--big 0: none). Every artifact references a
         config and a layer of its own and its project's base layer (the quota sums them).
         Every project has Harbor's policy "keep the latest K pushed (K = --keep), and
         every release-*" (the small set: one delete per repository, 10,000 in all).
dry run  every project's policy, run as the job runs it (retention.runs.run): the wall
         time, this process's CPU time, per repository; then the big repository's.
pushes   A separate process records pushes (registry.services.record_manifest_push, the
         database side of a push: repository and artifact rows, the quota row, the tag,
         audit) from 2 threads, as fast as they can. Interleaved rounds: pushes alone for
         --push-seconds, then pushes during a real run, alone again, ...; --rounds rounds
         at each pace of --pace, the paces taking turns (2,1: round 1 at pace 2, round 1
         at pace 1, round 2 at pace 2, ...); a round's ratio is the pushes per second
         during the run over the mean of the alone windows around it; the goal: median
         >= 0.9 at each pace.
         The small set: each round's run is the real run of the next --round-projects
         projects, and the pushes go into all the small set's projects in turn
         (<project>/pushed, which the policies do not select). The big repository: each
         round's run deletes (--big - --big-keep) / --rounds / (number of paces) artifacts,
         and the pushes go into big/pushed (the same quota row as the deletes).
full     Then, without pushes, the small set's real runs until every project (of
         --real-projects, default all) was run once at each pace, the paces' order
         alternating from project to project; each run deletes one artifact per
         repository (the second run of a project keeps one fewer), so the small set's
         whole real run (10,000 deletes) is measured at each pace, interleaved with the
         other's. No run starts after --deadline seconds of the call (the rest is then
         extrapolated from the runs without pushes).
         Deletes are re-checked under their lock and deleted from a real distribution
         (which answers 404 for manifests it never stored). Runs go in a thread at CPU
         priority --worker-nice (default 10: the instance's HARBOR_WORKER_NICE), as a
         worker runs them; each is sampled every 50 ms in pg_stat_activity (pushes
         waiting for a lock, for the run's backend, on the quota row), its backend's CPU
         read from /proc, its Python CPU the thread's.

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

from tests.stack import database_url, drop_database, migrated_template, recreate_database

# a worktree's own (HARBOR_TEST_TAG), so that two checkouts can run it at once
DATABASE = "_".join(filter(None, ("hpy_bench_retention", os.environ.get("HARBOR_TEST_TAG"))))
GOAL = 0.9
# pg_stat_activity with pg_blocking_pids, which takes the lock manager's locks: sampled in
# the alone windows too, so that its cost is on both sides of a round's ratio
SAMPLE_SECONDS = 0.05
WARMUP = 0.5  # each window starts when both pushing threads are past their first push
# The instance's default HARBOR_WORKER_NICE (docs/deployment.md): background jobs yield
# the CPU to the data path. The bench runs the real runs as such a worker would.
WORKER_NICE = 10


def _setup_django(data_dir: Path, *, create: bool) -> None:
    if create:
        os.environ["DATABASE_URL"] = recreate_database(DATABASE, template=migrated_template())
    else:
        os.environ["DATABASE_URL"] = database_url(DATABASE)
    os.environ["HARBOR_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbor_py.settings_test")
    import django

    django.setup()


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


def _pusher(seconds: float, out: Path, into: str) -> None:
    """The pushing process: 2 threads record pushes for `seconds` or until `<out>.stop`
    exists, into big/pushed (`into` "big") or into <project>/pushed of every small set's
    project in turn ("small"); writes each push's end time (epoch seconds)."""
    from django.db import connection

    from harbor_py.core.actor import Actor
    from projects.models import Project
    from registry import services
    from tests.integration.registry_data import parsed_image

    if into == "big":
        projects = [Project.objects.get(name="big")]
    else:
        projects = list(Project.objects.exclude(name="big").order_by("name"))
    stamps: list[list[float]] = [[], []]
    stop = time.monotonic() + seconds
    stop_file = Path(f"{out}.stop")
    salt = os.getpid()

    def push(worker: int) -> None:
        try:
            while time.monotonic() < stop and not stop_file.exists():
                n = len(stamps[worker])
                project = projects[(2 * n + worker) % len(projects)]
                services.record_manifest_push(
                    project=project,
                    repository_name=f"{project.name}/pushed",
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
            while not self.done.wait(SAMPLE_SECONDS):
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


def _push_window(seconds: float, data_dir: Path, into: str, during: Any = None) -> dict[str, Any]:
    """Pushes from a child process: alone for `seconds`, or while `during()` runs here;
    the rate is counted over the window (the run's span for `during`)."""
    out = data_dir / f"push-{time.monotonic_ns()}.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bench_retention",
            "--pusher",
            str(seconds + WARMUP if during is None else 3600),
            "--pusher-out",
            str(out),
            "--data-dir",
            str(data_dir),
            "--push-into",
            into,
        ],
        env={**os.environ},
    )
    result: dict[str, Any] = {}
    window = None
    sampler = _Sampler(os.environ["DATABASE_URL"], 0)
    if during is not None:
        ready = Path(f"{out}.ready")
        while not ready.exists() and child.poll() is None:
            time.sleep(0.05)
        time.sleep(WARMUP)
        began = time.time()
        result["run"] = during()
        window = (began, time.time())
        Path(f"{out}.stop").write_text("")
    else:
        sampler.start()
    if child.wait() != 0:
        raise RuntimeError("the pushing process failed")
    if sampler.is_alive():
        sampler.done.set()
        sampler.join()
    pushed = json.loads(out.read_text())
    first, last = window or (pushed["started"] + WARMUP, pushed["ended"])
    count = sum(1 for t in pushed["stamps"] if first <= t <= last)
    result.update(
        pushes=count,
        seconds=round(last - first, 2),
        per_second=count / max(last - first, 1e-6),
        cpu_ms_per_push=round(1000 * pushed["cpu_seconds"] / max(len(pushed["stamps"]), 1), 2),
    )
    return result


def _set_keep(policy: Any, keep: int) -> None:
    """The big repository's policy keeps the latest `keep` pushed from now on."""
    rules = policy.rules
    rules[0]["params"] = {"latestPushedK": keep}
    type(policy).objects.filter(pk=policy.pk).update(rules=rules)
    policy.refresh_from_db()


def _worker_runs(
    items: list[tuple[Any, float, int | None]], nice: int, until: float | None = None
) -> dict[str, Any]:
    """Real runs one after the other, as a worker runs them: in a thread at CPU priority
    `nice` (Linux sets it per thread), as a worker started under `nice -n
    HARBOR_WORKER_NICE` runs it (harbor_py.processes); its PostgreSQL backend, the sampler
    and the pushers keep the default priority, as in an instance. Each item is a policy,
    the pace of its run and the latestPushedK its first rule is set to first (None: as
    it is). No run but the first starts after the monotonic time `until`. The figures per
    pace, and in all."""
    from django.db import connection

    started, go = threading.Event(), threading.Event()
    result: dict[str, Any] = {"runs": []}

    def body() -> None:
        try:
            if nice:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            connection.ensure_connection()
            result["pid"] = connection.connection.info.backend_pid
            started.set()
            go.wait()
            for policy, pace, keep in items:
                if until is not None and result["runs"] and time.monotonic() >= until:
                    break  # after one run at least
                if keep is not None:
                    _set_keep(policy, keep)
                os.environ["HARBOR_RETENTION_PACE"] = str(pace)
                before = _backend_cpu(result["pid"])
                run = _run(policy, dry_run=False)
                run["backend_cpu_seconds"] = _backend_cpu(result["pid"]) - before
                result["runs"].append({"pace": pace, **run})
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
    sampler.start()
    go.set()
    thread.join()
    sampler.done.set()
    sampler.join()
    if "error" in result:
        raise result["error"]
    runs = result["runs"]
    total = _merged(runs)
    total.update(
        repositories=sum(r["repositories"] for r in runs),
        by_pace={
            pace: _merged([r for r in runs if r["pace"] == pace])
            for pace in sorted({r["pace"] for r in runs})
        },
        locks=sampler.summary(),
        nice=nice,
    )
    return total


def _per_delete(run: dict[str, Any]) -> dict[str, float]:
    deleted = max(run["deleted"], 1)
    return {
        "wall_ms_per_delete": round(1000 * run["wall_seconds"] / deleted, 2),
        "cpu_ms_per_delete": round(1000 * run["cpu_seconds"] / deleted, 2),
        "backend_cpu_ms_per_delete": round(1000 * run["backend_cpu_seconds"] / deleted, 2),
        "deletes_per_second": round(run["deleted"] / max(run["wall_seconds"], 1e-6), 1),
    }


def _rounds(
    label: str, args: argparse.Namespace, data_dir: Path, into: str, run: Any
) -> dict[str, Any]:
    """Interleaved push windows: alone, during `run(i, pace)`, alone, ..., the paces
    taking turns (round i at each pace before round i + 1); each round's ratio (its
    pushes per second over the mean of the alone windows around it) and its run's
    figures, printed as each round ends (a call cut short still says what it measured).
    Per pace: the median ratio and its spread."""
    alone = [_push_window(args.push_seconds, data_dir, into)]
    rounds = []
    turns = [(i, pace) for i in range(args.rounds) for pace in args.pace]
    for n, (i, pace) in enumerate(turns):
        window = _push_window(0, data_dir, into, during=lambda: run(i, pace))  # noqa: B023
        alone.append(_push_window(args.push_seconds, data_dir, into))
        figures = window.pop("run")
        baseline = (alone[n]["per_second"] + alone[n + 1]["per_second"]) / 2
        rounds.append(
            {
                "pace": pace,
                "ratio": round(window["per_second"] / baseline, 3) if baseline else 0.0,
                "pushes_per_second": {
                    "alone_before": round(alone[n]["per_second"], 1),
                    "during": round(window["per_second"], 1),
                    "alone_after": round(alone[n + 1]["per_second"], 1),
                },
                "cpu_ms_per_push": {
                    "alone": alone[n]["cpu_ms_per_push"],
                    "during": window["cpu_ms_per_push"],
                },
                "run_wall_seconds": round(figures["wall_seconds"], 2),
                "deleted": figures["deleted"],
                **_per_delete(figures),
                "locks": figures["locks"],
                "_run": figures,
            }
        )
        shown = {k: v for k, v in rounds[-1].items() if k != "_run"}
        print(f"{label}, pace {pace:g}, round {i + 1}: {json.dumps(shown)}", flush=True)
    found: dict[str, Any] = {"rounds": rounds}
    for pace in args.pace:
        at = [r for r in rounds if r["pace"] == pace]
        ratios = [r["ratio"] for r in at]
        found[f"pace {pace:g}"] = {
            "median_ratio": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)],
            "median_run_wall_seconds": statistics.median(r["run_wall_seconds"] for r in at),
            "median_deletes_per_second": statistics.median(r["deletes_per_second"] for r in at),
            "median_backend_cpu_ms_per_delete": statistics.median(
                r["backend_cpu_ms_per_delete"] for r in at
            ),
            "median_cpu_ms_per_delete": statistics.median(r["cpu_ms_per_delete"] for r in at),
        }
    return found


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("wall_seconds", "cpu_seconds", "backend_cpu_seconds", "deleted")
    return {**{k: sum(r.get(k, 0) for r in runs) for k in keys}, "projects": len(runs)}


def _full_runs(
    args: argparse.Namespace, small: list[Any], done: dict[int, list[float]]
) -> list[tuple[Any, float, int | None]]:
    """The runs that complete the small set at every pace: each project once at each
    pace (the rounds ran some already), the paces' order alternating from project to
    project. Each run deletes one artifact per repository: the first keeps the latest
    --keep, the second one fewer (and the release-* artifact), and so on."""
    items: list[tuple[Any, float, int | None]] = []
    for p, policy in enumerate(small):
        order = args.pace if p % 2 == 0 else list(reversed(args.pace))
        for pace in order:
            if pace not in done.setdefault(p, []):
                done[p].append(pace)
                items.append((policy, pace, args.keep - (len(done[p]) - 1)))
    return items


def _small_summary(
    found: dict[str, Any], rest: dict[str, Any], args: argparse.Namespace, of_projects: int
) -> dict[str, Any]:
    """The small set's real runs at each pace: those of the rounds (with pushes) and the
    rest (without), and the whole set's time (estimated for projects the deadline left)."""
    summary = {}
    for pace in args.pace:
        during = _merged([r["_run"] for r in found["rounds"] if r["pace"] == pace])
        during["projects"] = sum(
            r["_run"]["projects"] for r in found["rounds"] if r["pace"] == pace
        )
        alone = rest["by_pace"].get(pace) or _merged([])
        done = _merged([during, alone])
        done["projects"] = during["projects"] + alone["projects"]
        per_project = alone["wall_seconds"] / max(alone["projects"], 1)
        missing = of_projects - done["projects"]
        summary[f"pace {pace:g}"] = {
            "projects": done["projects"],
            "of_projects": of_projects,
            "deleted": done["deleted"],
            "wall_seconds": round(done["wall_seconds"], 1),
            **_per_delete(done),
            "with_pushes": {"projects": during["projects"], **_per_delete(during)},
            "without_pushes": {"projects": alone["projects"], **_per_delete(alone)},
            # the projects not run (deadline), at the rate of those run without pushes
            "estimated_wall_seconds_all": round(
                done["wall_seconds"] + per_project * max(missing, 0), 1
            ),
        }
    summary["locks_without_pushes"] = rest["locks"]
    return summary


def _dry(policies: list[Any]) -> dict[str, Any]:
    runs = [_run(p, dry_run=True) for p in policies]
    repositories = sum(r["repositories"] for r in runs)
    wall, cpu = (sum(r[k] for r in runs) for k in ("wall_seconds", "cpu_seconds"))
    return {
        "projects": len(runs),
        "repositories": repositories,
        "artifacts": sum(r["total"] for r in runs),
        "would_delete": sum(r["deleted"] for r in runs),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "wall_ms_per_repository": round(1000 * wall / max(repositories, 1), 2),
        "cpu_ms_per_repository": round(1000 * cpu / max(repositories, 1), 2),
    }


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
    parser.add_argument(
        "--round-projects", type=int, default=1, help="the small set's projects per round"
    )
    parser.add_argument("--push-seconds", type=float, default=5, help="each alone window")
    parser.add_argument(
        "--deadline",
        type=float,
        help="seconds of the call after which the small set's real run starts no project",
    )
    parser.add_argument(
        "--pace",
        type=lambda text: [float(p) for p in text.split(",")],
        default=[2.0],
        help="HARBOR_RETENTION_PACE of the real runs (2, the instance's); a list (2,1): the "
        "push rounds again at each, the rest of the run at the first",
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
    parser.add_argument("--push-into", default="big", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pusher is not None:
        _setup_django(args.data_dir, create=False)
        _pusher(args.pusher, args.pusher_out, args.push_into)
        return 0

    began = time.monotonic()
    deadline = began + args.deadline if args.deadline else None
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
        # r*: not <project>/pushed, the pushers'
        small = [_policy(f"p{p:03d}", args.keep, "r*") for p in range(args.projects)]
        big = _policy("big", args.big_keep, "app") if args.big else None
        results: dict[str, Any] = {"data": data, "load_average": load, "pace": args.pace}
        results["worker_nice"] = args.worker_nice
        results["dry_run_small"] = _dry(small)
        print(f"dry run, small set: {results['dry_run_small']}", flush=True)
        if big is not None:
            dry_big = _run(big, dry_run=True)
            results["dry_run_big"] = {
                k: round(v, 2) if isinstance(v, float) else v for k, v in dry_big.items()
            }
            print(f"dry run, big repository: {results['dry_run_big']}", flush=True)

        socket = data_dir / "registry.sock"
        config = gated_config(f"  filesystem: {{rootdirectory: {data_dir / 'storage'}}}", socket)
        with serving(data_dir / ".", config, ready=socket.exists):
            settings.HARBOR = {**settings.HARBOR, "REGISTRY_URL": f"unix://{socket}"}
            upstream.reset_client()
            real = small[: args.real_projects or len(small)]
            medians: dict[str, float] = {}
            results["push_rounds"] = {}
            per = max(1, min(args.round_projects, len(real) // (args.rounds * len(args.pace))))
            done: dict[int, list[float]] = {}  # project: the paces it was run at

            def small_round(i: int, pace: float) -> dict[str, Any]:
                first = (i * len(args.pace) + args.pace.index(pace)) * per
                for p in range(first, first + per):
                    done[p] = [pace]
                return _worker_runs(
                    [(policy, pace, None) for policy in real[first : first + per]],
                    args.worker_nice,
                )

            small_found = _rounds("small set", args, data_dir, "small", small_round)
            small_found["round_projects"] = per
            results["push_rounds"]["small set"] = small_found
            if big is not None:
                # each round of the big repository deletes this many more
                per_round = (args.big - args.big_keep) // args.rounds // len(args.pace)
                _set_keep(big, args.big)  # nothing to delete until the first round

                def big_round(i: int, pace: float, policy: Any = big) -> dict[str, Any]:
                    remaining = policy.rules[0]["params"]["latestPushedK"]
                    return _worker_runs([(policy, pace, remaining - per_round)], args.worker_nice)

                found = _rounds("big repository", args, data_dir, "big", big_round)
                for round_ in found["rounds"]:
                    round_.pop("_run")
                results["push_rounds"]["big repository"] = found
            # the rest of the small set's real runs, each project at each pace, without
            # pushes, until the deadline
            rest = _worker_runs(_full_runs(args, real, done), args.worker_nice, until=deadline)
            results["real_run_small"] = _small_summary(small_found, rest, args, len(real))
            for round_ in small_found["rounds"]:
                round_.pop("_run")
            for pace in args.pace:
                print(
                    f"real run, small set, pace {pace:g}: "
                    f"{json.dumps(results['real_run_small'][f'pace {pace:g}'])}",
                    flush=True,
                )
        for label, found in results["push_rounds"].items():
            for pace in args.pace:
                at = found[f"pace {pace:g}"]
                spread = at["ratio_range"]
                medians[f"{label}, pace {pace:g}"] = at["median_ratio"]
                print(
                    f"{label}, pace {pace:g}: pushes during its real runs / alone, median of "
                    f"{args.rounds} rounds {at['median_ratio']:.3f} (rounds "
                    f"{spread[0]:.3f}-{spread[1]:.3f}; goal >= {GOAL})",
                    flush=True,
                )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        results["child_cpu_seconds"] = round(children.ru_utime + children.ru_stime, 2)
        results["call_seconds"] = round(time.monotonic() - began, 1)
        print(f"the whole call: {results['call_seconds']} s", flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
        # the goal at the default pace (the first)
        at_default = [v for k, v in medians.items() if k.endswith(f"pace {args.pace[0]:g}")]
        return 0 if min(at_default) >= GOAL else 1
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DATABASE)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
