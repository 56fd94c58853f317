"""Tag retention benchmark (issue #25): dry runs and real runs over Harbor's "small" data
set and over one repository with 20,000 tags, and push throughput during a real run
against without one.

    .venv/bin/python -m bench.bench_retention            # the whole set, several minutes
    .venv/bin/python -m bench.bench_retention --projects 10 --big 5000 --push-seconds 5

data     --projects x --repositories x --artifacts x --tags (Harbor's small set: 100 x 100
         x 10 x 5 = 100,000 artifacts, 500,000 tags), COPYed into a fresh PostgreSQL
         database (hpy_bench_retention), pushed one minute apart; one more project with one
         repository of --big artifacts of one tag each. Every project has Harbor's
         policy "keep the latest K pushed (K = --keep), and every release-*".
dry run  every project's policy, run as the job runs it (retention.runs.run): the wall
         time, this process's CPU time, per artifact.
real run the big repository (it deletes all but --big-keep artifacts, each re-checked under
         its lock and deleted from a real distribution, which answers 404 for manifests it
         never stored) and --real-projects projects of the small set.
pushes   a separate process records pushes (registry.services.record_manifest_push, the
         database side of a push: repository and artifact rows, the quota row, the tag,
         audit) into another repository of the big repository's project, which shares its
         quota row with the deletes, from 2 threads for --push-seconds: alone, during the
         real run of the big repository, alone again. The goal: during / alone >= 0.9.

The machine these figures come from is shared: read CPU times and the push ratio (taken
in the same run, interleaved), not wall-clock times. Results on stdout, JSON with --out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
        cursor.execute("ANALYZE artifact; ANALYZE tag; ANALYZE repository")
        cursor.execute("SELECT COUNT(*) FROM tag")
        tag_count = cursor.fetchone()[0]
    return {
        "projects": projects,
        "repositories": projects * repositories,
        "artifacts": projects * repositories * artifacts,
        "big_repository_tags": big,
        "tags": tag_count,
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
    """One run, as the worker runs it (in this process); wall and CPU seconds."""
    from jobs import runner
    from jobs.models import Execution, Task

    execution = Execution.objects.create(
        vendor_type="RETENTION",
        vendor_id=policy.pk,
        parameters={"policy_id": policy.pk, "dry_run": dry_run},
    )
    task = Task.objects.create(execution=execution)
    wall, cpu = time.perf_counter(), time.process_time()
    runner.run(task.pk)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    execution.refresh_from_db()
    if execution.status != "Success":
        raise RuntimeError(f"retention run {execution.pk}: {execution.status_message}")
    return {"wall_seconds": wall, "cpu_seconds": cpu, **execution.extra_attrs}


def _pusher(seconds: float, out: Path) -> None:
    """The pushing process: 2 threads record pushes into big/pushed for `seconds`."""
    from django.db import connection

    from harbor_py.core.actor import Actor
    from projects.models import Project
    from registry import services
    from tests.integration.registry_data import parsed_image

    project = Project.objects.get(name="big")
    counts = [0, 0]
    stop = time.monotonic() + seconds
    salt = os.getpid()

    def push(worker: int) -> None:
        try:
            while time.monotonic() < stop:
                n = counts[worker]
                services.record_manifest_push(
                    project=project,
                    repository_name="big/pushed",
                    parsed=parsed_image(f"{salt}-{worker}-{n}"),
                    tag=f"{salt}-{worker}-{n}",
                    actor=Actor(username="pusher"),
                )
                counts[worker] = n + 1
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(w,)) for w in range(2)]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(counts)
    out.write_text(
        json.dumps(
            {
                "pushes": total,
                "per_second": total / seconds,
                "cpu_seconds": time.process_time() - cpu,
            }
        )
    )


def _push_window(seconds: float, data_dir: Path, during: Any = None) -> dict[str, Any]:
    """Pushes from a child process for `seconds`; `during()` runs here meanwhile."""
    out = data_dir / f"push-{time.monotonic_ns()}.json"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.bench_retention",
            "--pusher",
            str(seconds),
            "--pusher-out",
            str(out),
            "--data-dir",
            str(data_dir),
        ],
        env={**os.environ},
    )
    result: dict[str, Any] = {}
    if during is not None:
        time.sleep(1.0)  # the child's Django start-up; then the run overlaps the pushes
        result["run"] = during()
    if child.wait() != 0:
        raise RuntimeError("the pushing process failed")
    result.update(json.loads(out.read_text()))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--artifacts", type=int, default=10)
    parser.add_argument("--tags", type=int, default=5)
    parser.add_argument("--big", type=int, default=20_000, help="tags in the big repository")
    parser.add_argument("--keep", type=int, default=5, help="latestPushedK of the small set")
    parser.add_argument("--big-keep", type=int, default=15_000, help="latestPushedK, big repo")
    parser.add_argument("--real-projects", type=int, default=5)
    parser.add_argument("--push-seconds", type=float, default=15)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="HARBOR_RETENTION_PACE of the real runs"
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
        with serving(data_dir / ".", config, ready=socket.exists):
            settings.HARBOR = {**settings.HARBOR, "REGISTRY_URL": f"unix://{socket}"}
            upstream.reset_client()
            alone = _push_window(args.push_seconds, data_dir)
            during = _push_window(
                args.push_seconds, data_dir, during=lambda: _run(big, dry_run=False)
            )
            again = _push_window(args.push_seconds, data_dir)
            real = [_run(p, dry_run=False) for p in small[: args.real_projects]]
        run = during.pop("run")
        baseline = (alone["per_second"] + again["per_second"]) / 2
        ratio = during["per_second"] / baseline if baseline else 0.0
        overlap = min(1.0, run["wall_seconds"] / args.push_seconds)
        results["real_run_big"] = {
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in run.items()},
            "cpu_ms_per_delete": round(1000 * run["cpu_seconds"] / max(run["deleted"], 1), 2),
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
        results["pushes"] = {
            "alone_per_second": [round(alone["per_second"], 1), round(again["per_second"], 1)],
            "during_per_second": round(during["per_second"], 1),
            "ratio": round(ratio, 3),
            "run_covered_fraction_of_window": round(overlap, 2),
            "cpu_ms_per_push": {
                "alone": round(1000 * alone["cpu_seconds"] / max(alone["pushes"], 1), 2),
                "during": round(1000 * during["cpu_seconds"] / max(during["pushes"], 1), 2),
            },
        }
        print(f"real run, big repository: {results['real_run_big']}", flush=True)
        print(f"real run, small set: {results['real_run_small']}", flush=True)
        print(f"pushes: {results['pushes']} (goal: ratio >= {GOAL})", flush=True)
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
