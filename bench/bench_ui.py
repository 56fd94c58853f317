"""Web UI pages: server time p50/p95 on Harbor's "small" performance data set.

    .venv/bin/python -m bench.bench_ui                     # 100 x 100 x 10 x 5, as bench_api
    .venv/bin/python -m bench.bench_ui --projects 10 --rounds 4   # a quick look
    # the seeding under load, the measurement alone on a quiet machine:
    .venv/bin/python -m bench.bench_ui --phase prepare --work /tmp/bui
    quietrun .venv/bin/python -m bench.bench_ui --phase measure --work /tmp/bui

Starts tests.stack.Instance (PostgreSQL), creates a non-admin member, runs `manage.py seed`
as bench.bench_api does (every artifact with a global label, the member Developer of every
project), VACUUM ANALYZE, then measures every page of the UI in the instance's
environment (`manage.py shell`: Django's test client, signed in with force_login, one
request at a time after a warm-up): the server's time to answer, template rendering and SQL
included, without nginx and the network. `prepare` stops the instance after the seeding
and keeps its database and data directory (--work); `measure` starts it again, measures,
and drops them (unless --keep).

The pages are asked in --runs runs of --rounds interleaved rounds (each round asks every
page once as the sysadmin and once as the member, so a slow moment of the machine spreads
over the pages instead of landing on one). Each run gives each page a p50 and a p95 (over
its rounds); a page's figure is the median of its runs' figures, and the goal is that
median p95 < 100 ms (#28). Exit status 1 when a page misses it or answers other than 200.

Results: a table on stdout and JSON in data/bench/ui.json (--out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench import git_state, log, percentile
from bench.bench_api import MEMBER, shell_json, table_counts, vacuum_analyze
from tests.stack import REPO_ROOT, Instance, drop_database

MARKER = "BENCH-UI "
MEMBER_NOT = ("/logs", "/webhooks")  # a Developer may read neither (Harbor's roles)
GOAL_MS = 100.0


def ui_pages(args: argparse.Namespace) -> list[tuple[str, str]]:
    project = f"perf{args.projects // 2:04d}"
    repository = f"repo{args.repositories // 2:03d}"
    base = f"/projects/{project}"
    # the first artifact of the repository, by its digest (manage.py seed's _digest)
    artifact = "sha256:" + hashlib.sha256(f"{project}/{repository}/0".encode()).hexdigest()
    return [
        ("dashboard", "/"),
        ("projects", "/projects/"),
        ("projects deep", f"/projects/?page={min(50, max(1, -(-args.projects // 15)))}"),
        ("project summary", f"{base}/"),
        ("repositories", f"{base}/repositories"),
        ("repository (artifacts)", f"{base}/repositories/{repository}/"),
        ("repository by label", f"{base}/repositories/{repository}/?label=1"),
        ("members", f"{base}/members"),
        ("labels", f"{base}/labels"),
        ("project logs", f"{base}/logs"),
        ("robots", f"{base}/robots"),
        ("search", f"/search?q={args.search}"),
        ("audit log", "/admin/audit"),
        ("quotas", "/admin/quotas"),
        ("users", "/admin/users"),
        ("system robots", "/admin/robots"),
        ("registries", "/admin/registries"),
        ("replications", "/admin/replications"),
        ("gc", "/admin/gc"),
        ("global labels", "/admin/labels"),
        # the pages this wave added (#28, item 4)
        ("artifact", f"{base}/repositories/{repository}/-/artifacts/{artifact}"),
        ("webhooks", f"{base}/webhooks"),
        ("retention", f"{base}/retention"),
        ("scanners", "/admin/scanners"),
        ("security hub", "/admin/security"),
        ("trusted keys", "/admin/trusted-keys"),
        ("job service", "/admin/jobservice"),
        ("groups", "/admin/groups"),
    ]


def pages_in_process(spec: str) -> None:
    """Run by `manage.py shell` in the instance's environment: each page runs x rounds times
    per user, timed around the test client's whole request; JSON after MARKER."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    data = json.loads(spec)
    result: dict[str, dict[str, Any]] = {}
    clients = {}
    for username in data["users"]:
        # The instance's own host name: any other is refused (400, ALLOWED_HOSTS).
        client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
        client.force_login(get_user_model().objects.get(username=username))
        clients[username] = client
        result[username] = {}
        for name, path in data["pages"]:
            if username != "admin" and (path.startswith("/admin/") or path.endswith(MEMBER_NOT)):
                continue  # sysadmins' pages; a Developer may not read logs or webhooks
            status = client.get(path).status_code  # warm-up (template and plan caches)
            result[username][name] = {"status": status, "timings": [], "cpu": []}
    # Interleaved: each round asks every page once, so that a slow moment of the machine
    # spreads over the pages instead of landing on one.
    for _ in range(data["runs"] * data["rounds"]):
        for username, pages in result.items():
            for name, path in data["pages"]:
                if name not in pages:
                    continue
                began, began_cpu = time.perf_counter(), time.process_time()
                status = clients[username].get(path).status_code
                pages[name]["timings"].append((time.perf_counter() - began) * 1000)
                pages[name]["cpu"].append((time.process_time() - began_cpu) * 1000)
                pages[name]["status"] = max(pages[name]["status"], status)
    print(MARKER + json.dumps(result))


def measure(
    instance: Instance, pages: list[tuple[str, str]], runs: int, rounds: int
) -> dict[str, Any]:
    spec = json.dumps(
        {"users": ["admin", MEMBER[0]], "pages": pages, "runs": runs, "rounds": rounds}
    )
    code = f"from bench.bench_ui import pages_in_process; pages_in_process({spec!r})"
    return shell_json(instance, code, MARKER)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ui", description=__doc__)
    parser.add_argument("--projects", type=int, default=100, help="projects (100)")
    parser.add_argument("--repositories", type=int, default=100, help="per project (100)")
    parser.add_argument("--artifacts", type=int, default=10, help="per repository (10)")
    parser.add_argument("--tags", type=int, default=5, help="per artifact (5)")
    parser.add_argument("--runs", type=int, default=5, help="runs; a figure is their median (5)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds per run (20)")
    parser.add_argument("--search", default="repo05", help="the search keyword (repo05)")
    parser.add_argument(
        "--phase",
        choices=("all", "prepare", "measure"),
        default="all",
        help="prepare: start, seed, stop keeping the data; measure: start it again and measure",
    )
    parser.add_argument("--work", type=Path, help="the work directory of the two phases")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "bench" / "ui.json")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.phase != "all" and args.work is None:
        parser.error("--phase prepare and measure need --work")
    return args


def prepare(args: argparse.Namespace, instance: Instance) -> dict[str, Any]:
    instance.start()
    instance.create_user(*MEMBER)
    log(f"seeding {args.projects} x {args.repositories} x {args.artifacts} x {args.tags}")
    instance.manage(
        "seed",
        *("--projects", str(args.projects), "--repositories", str(args.repositories)),
        *("--artifacts", str(args.artifacts), "--tags", str(args.tags)),
        *("--prefix", "perf", "--member", MEMBER[0]),
    )
    vacuum_analyze(instance)
    artifacts, tags = table_counts(instance)
    return {
        "port": instance.port,
        "scanner_port": instance.scanner_port,
        "artifacts": artifacts,
        "tags": tags,
    }


def figures(samples: list[float], runs: int) -> tuple[float, float, list[float]]:
    """The median over the runs of each run's p50 and p95, and the runs' p95s."""
    size = len(samples) // runs
    chunks = [samples[i * size : (i + 1) * size] for i in range(runs)]
    p50s = [percentile(chunk, 0.50) or 0.0 for chunk in chunks]
    p95s = [percentile(chunk, 0.95) or 0.0 for chunk in chunks]
    return statistics.median(p50s), statistics.median(p95s), p95s


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.work or Path(tempfile.mkdtemp(prefix="harbor-bench-ui-"))
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "state.json"
    started = time.monotonic()
    if args.phase == "measure":
        state = json.loads(state_file.read_text())
        instance = Instance(
            data_dir=workdir / "data", port=state["port"], scanner_port=state["scanner_port"]
        )
    else:
        instance = Instance(data_dir=workdir / "data")
    drop = args.phase != "prepare" and not args.keep
    try:
        if args.phase == "measure":
            log(f"starting harbor-py again (work directory {workdir})")
            instance.manage("platform", "up", "--wait", "180")
        else:
            log(f"starting harbor-py (work directory {workdir})")
            state = prepare(args, instance)
            state_file.write_text(json.dumps(state))
        if args.phase == "prepare":
            log(f"prepared in {workdir}; measure with --phase measure --work {workdir}")
            return 0
        log(
            f"{state['artifacts']} artifacts, {state['tags']} tags; measuring {args.runs} runs"
            f" of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}"
        )
        measured = measure(instance, ui_pages(args), args.runs, args.rounds)
    except BaseException:
        drop = not args.keep  # nothing worth keeping
        raise
    finally:
        instance.manage("platform", "down", check=False)
        if drop:
            drop_database(instance.db_name)
            shutil.rmtree(workdir, ignore_errors=True)
    rows, missed = [], 0
    # CPU: this process's own (Django, templates), not PostgreSQL's; on a busy machine it
    # says more about the code than the wall time, which includes waiting for a core.
    print(f"\nmedians of {args.runs} runs of {args.rounds} interleaved rounds")
    print(
        f"{'page':<24} {'user':<10} {'p50 ms':>8} {'p95 ms':>8} {'p95 CPU':>8}"
        f"  {'runs' + chr(39) + ' p95':<30} status"
    )
    for user, pages in measured.items():
        for name, found in pages.items():
            p50, p95, p95s = figures(found["timings"], args.runs)
            cpu95 = figures(found["cpu"], args.runs)[1]
            bad = found["status"] != 200 or p95 >= GOAL_MS
            missed += bad
            rows.append(
                {
                    "page": name,
                    "user": user,
                    "status": found["status"],
                    "p50_ms": round(p50, 1),
                    "p95_ms": round(p95, 1),
                    "p95_cpu_ms": round(cpu95, 1),
                    "p95_ms_of_runs": [round(x, 1) for x in p95s],
                }
            )
            flag = "  MISSED" if bad else ""
            runs = " ".join(f"{x:.0f}" for x in p95s)
            print(
                f"{name:<24} {user:<10} {p50:8.1f} {p95:8.1f} {cpu95:8.1f}  {runs:<30}"
                f" {found['status']}{flag}"
            )
    result = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_seconds": round(time.monotonic() - started, 1),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0],
        "code": git_state(),
        "data_set": {
            "projects": args.projects,
            "artifacts": state["artifacts"],
            "tags": state["tags"],
        },
        "runs": args.runs,
        "rounds_per_run": args.rounds,
        "goal_p95_ms": GOAL_MS,
        "pages": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{missed} of {len(rows)} pages missed p95 < {GOAL_MS:.0f} ms; results: {args.out}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
