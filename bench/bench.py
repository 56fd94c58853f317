"""Push/pull benchmark: bare distribution vs nginx + distribution vs the whole harbor-py stack.

    .venv/bin/python -m bench.bench                  # defaults: ~5 min on an idle 2-core box
    .venv/bin/python -m bench.bench --runs 1 --tiny 40 --big-mib 16   # a quick look

Three topologies, all started (and stopped) by this script, all on 127.0.0.1:
  bare   docker-registry alone, no auth, TCP loopback port, filesystem storage in a temp dir
  nginx  the same registry config (on a unix socket, as in harbor-py) behind a minimal nginx
         with the settings of shared/reference/registry-integration-notes.md
  ours   tests.stack.Instance (PostgreSQL), admin credentials, private project `bench`

Measured, per topology: push and pull of one image of 4 x 64 MiB random layers (MB/s,
1 MB = 10^6 bytes, median of --runs), and --tiny distinct one-layer images pushed by
--parallel concurrent skopeo processes (images/s). Every measurement uses images and
repositories that its registry storage has never seen, after resetting skopeo's blob-info
cache, so every layer is really uploaded; pulls go to a fresh oci: directory. Topologies are
measured interleaved (the order rotates from run to run) after writing back dirty pages
(sync) and waiting for the CPU to go idle (at most --settle-max seconds; measurements that
start on a busy machine are flagged).
Also measured: latency of GET /service/token with Basic admin credentials (the first request
pays the password hash, the others should hit the credential cache); the CPU time each
component uses per image or per MB (from /proc: skopeo, distribution, nginx, gunicorn,
celery, redis, supervisord, PostgreSQL backends); and, from the logs, where the time of each
request kind goes (gunicorn core.log for ours, the bench nginx's access log, and
distribution's own `response completed` durations).

The verdict compares the medians; under the table, ours / nginx+distribution is also given
run by run (both measured in the same round of the rotation), which shows how far one run's
ratio moves with the VM's drift.

Results: a table on stdout and JSON in data/bench/results.json (--out); the logs of the run
are copied next to it (logs/<topology>/).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harbor_py.processes import role_environment
from tests.imagegen import ImageLayout, make_image, random_layer
from tests.stack import (
    ADMIN_PASSWORD,
    DOCKER_REGISTRY,
    REPO_ROOT,
    Instance,
    free_port,
    reset_skopeo_cache,
    skopeo,
)

ADMIN = ("admin", ADMIN_PASSWORD)
PROJECT = "bench"
TOPOLOGIES = ("bare", "nginx", "ours")
LABELS = {"bare": "distribution", "nginx": "nginx+distribution", "ours": "harbor-py"}
METRICS = {  # key: (label, unit)
    "big_push": ("big push", "MB/s"),
    "big_pull": ("big pull", "MB/s"),
    "tiny_push": ("tiny push", "img/s"),
}
# ours / (nginx + distribution)
GOALS = {"big_push": 0.97, "big_pull": 0.97, "tiny_push": 0.90}
NGINX = "/usr/sbin/nginx"


# -- small utilities -------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def http_client(**kwargs: Any) -> httpx.Client:
    """Never through a proxy: the bench talks to 127.0.0.1 only."""
    return httpx.Client(trust_env=False, timeout=30, **kwargs)


def wait_http(
    url: str, expect: tuple[int, ...], timeout: float, proc: subprocess.Popen | None, what: str
) -> None:
    deadline = time.monotonic() + timeout
    with http_client() as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code in expect:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {url} within {timeout:.0f}s")


def cpu_busy(interval: float = 0.5) -> float:
    """Fraction of all CPUs busy over `interval` seconds (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(interval)
    total1, idle1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def settle(max_wait: float, threshold: float = 0.15) -> tuple[float, float]:
    """Wait until the machine is idle (left-over work of the previous measurement, e.g.
    distribution finishing uploads or background jobs, must not land in the next one).
    Returns (seconds waited, CPU busy fraction when giving up or going)."""
    start = time.monotonic()
    busy = cpu_busy()
    while busy >= threshold and time.monotonic() - start < max_wait:
        busy = cpu_busy()
    return time.monotonic() - start, busy


def child_env() -> dict[str, str]:
    """Environment for registry and nginx: nothing that could reconfigure them."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}


def registry_settings() -> dict[str, str]:
    """The Go runtime settings harbor-py gives its distribution (HARBOR_REGISTRY_GOGC,
    HARBOR_REGISTRY_GOMEMLIMIT, or their defaults). Every topology's distribution runs with
    them, so that the baselines are configured like ours and a ratio measures the gate alone."""
    return role_environment("registry")


def stop_process(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def git_state() -> str:
    """The commit measured, and whether the working tree had uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=30
        )
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = len(git("status", "--porcelain").splitlines())
    return f"{commit} + {changed} uncommitted changes" if changed else commit


def tool_version(*command: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"unavailable ({exc})"
    text = (result.stdout + result.stderr).strip()
    return text.splitlines()[0] if text else "?"


# -- CPU accounting ---------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
COMPONENTS = (
    ("docker-registry", "distribution"),
    # before gunicorn: granian's command line named the socket run/gunicorn.sock until it
    # was renamed run/web.sock
    ("granian", "granian"),  # the core program under granian (harbor_py.ops.granian_serve)
    ("gunicorn", "gunicorn"),
    ("celery", "celery"),
    ("redis-server", "redis"),
    ("nginx", "nginx"),
    ("supervisord", "supervisord"),
    ("postgres", "postgres"),
)


def process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds used so far)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        table[int(entry)] = (int(fields[1]), cmdline.decode(errors="replace"), cpu)
    return table


def stack_processes(
    table: dict[int, tuple[int, str, float]], roots: list[int], instance: Instance | None
) -> set[int]:
    """The pids of a stack: `roots` and their descendants; for an instance, everything
    under its supervisord and the PostgreSQL backends serving its database."""
    roots = list(roots)
    if instance is not None:
        with contextlib.suppress(OSError, ValueError):
            pid_file = instance.data_dir / "run" / "supervisord.pid"
            roots.append(int(pid_file.read_text().strip()))
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    todo = [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children.get(pid, []))
    if instance is not None:
        db_name = instance.db_name
        seen.update(
            pid
            for pid, (_, cmd, _) in table.items()
            if cmd.startswith("postgres:") and f" {db_name} " in cmd
        )
    return seen


def component_of(cmdline: str) -> str:
    return next((name for key, name in COMPONENTS if key in cmdline), "other")


def clients_cpu() -> float:
    """CPU seconds of this process's finished children (the skopeo clients)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- topologies ------------------------------------------------------------------------------

REGISTRY_CONFIG = """\
# Like deploy/registry.yml, without `auth:` (written by bench/bench.py).
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  redirect:
    disable: true
http:
  net: {net}
  addr: {addr}
  secret: {secret}
  headers:
    X-Content-Type-Options: [nosniff]
"""

NGINX_CONFIG = """\
# Minimal nginx in front of distribution (written by bench/bench.py), with the settings of
# shared/reference/registry-integration-notes.md.
{user}
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    default_type application/octet-stream;
    log_format timed '$request_method $request_uri $status $body_bytes_sent '
                     'rt=$request_time urt=$upstream_response_time';
    access_log {dir}/nginx-access.log timed;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;

    upstream registry {{
        server unix:{socket};
        keepalive 64;
    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        proxy_read_timeout 900s;
        proxy_send_timeout 900s;

        location /v2/ {{
            proxy_pass http://registry;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"""


@dataclass
class Topology:
    name: str
    workdir: Path
    port: int = field(default_factory=free_port)
    creds: tuple[str, str] | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)
    instance: Instance | None = None
    startup_seconds: float = 0.0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_dir(self) -> Path:
        if self.instance is not None:
            return self.instance.data_dir / "logs"
        return self.workdir

    def timing_logs(self) -> dict[str, Path]:
        """Logs with per-request times, by source: the front door (gunicorn for ours, the
        bench nginx for nginx) and distribution's own `response completed` lines."""
        logs = {"registry": self.log_dir / "registry.log"}
        if self.name == "ours":
            logs["gunicorn"] = self.log_dir / "core-access.log"
        elif self.name == "nginx":
            logs["nginx"] = self.workdir / "nginx-access.log"
        return logs

    def _spawn(
        self, command: list[str], log_name: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        with open(self.workdir / log_name, "ab") as out:
            proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=child_env() | (extra_env or {}),
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def _start_registry(self, net: str, addr: str) -> subprocess.Popen:
        storage = self.workdir / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "registry.yml"
        config.write_text(
            REGISTRY_CONFIG.format(
                storage=storage, net=net, addr=addr, secret=secrets.token_urlsafe(32)
            )
        )
        return self._spawn(
            [DOCKER_REGISTRY, "serve", str(config)], "registry.log", registry_settings()
        )

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if self.name == "bare":
            proc = self._start_registry("tcp", self.host)
            wait_http(f"{self.url}/v2/", (200,), 30, proc, "docker-registry")
        elif self.name == "nginx":
            socket_path = self.workdir / "registry.sock"
            registry = self._start_registry("unix", str(socket_path))
            for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (self.workdir / "tmp" / sub).mkdir(parents=True, exist_ok=True)
            conf = self.workdir / "nginx.conf"
            conf.write_text(
                NGINX_CONFIG.format(
                    user="user root;" if os.geteuid() == 0 else "",
                    dir=self.workdir,
                    socket=socket_path,
                    port=self.port,
                )
            )
            deadline = time.monotonic() + 30
            while not socket_path.exists():
                if registry.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not create its socket")
                time.sleep(0.05)
            proc = self._spawn(
                [
                    NGINX,
                    "-c",
                    str(conf),
                    "-p",
                    str(self.workdir),
                    "-e",
                    str(self.workdir / "nginx-error.log"),
                    "-g",
                    "daemon off;",
                ],
                "nginx.log",
            )
            wait_http(f"{self.url}/v2/", (200,), 30, proc, "nginx")
        else:
            assert self.instance is not None
            self.instance.start()
        self.startup_seconds = time.monotonic() - started

    def cpu_by_component(self, table: dict[int, tuple[int, str, float]]) -> dict[str, float]:
        """CPU seconds used so far by this topology's server processes, per component: the
        processes it started and their descendants (for ours: everything under its
        supervisord, and the PostgreSQL backends serving its database)."""
        seen = stack_processes(table, [proc.pid for proc in self.procs], self.instance)
        usage: dict[str, float] = {}
        for pid in seen:
            _, cmdline, cpu = table[pid]
            component = component_of(cmdline)
            usage[component] = usage.get(component, 0.0) + cpu
        return usage

    def stop(self) -> None:
        if self.instance is not None:
            self.instance.stop()
        for proc in reversed(self.procs):
            stop_process(proc)


# -- images ----------------------------------------------------------------------------------


def _layer(size: int) -> bytes:
    return random_layer(size)


def generate_images(
    root: Path, args: argparse.Namespace
) -> tuple[list[ImageLayout], list[list[ImageLayout]]]:
    """One big image per run and one set of tiny images per tiny run, all distinct: every
    measurement pushes blobs its registry has never stored."""
    big: list[ImageLayout] = []
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for run in range(args.runs):
            layers = list(pool.map(_layer, [args.big_mib << 20] * args.big_layers))
            big.append(make_image(root / f"big-{run}", layers=layers, tag="v1"))
    tiny = [
        [
            make_image(root / f"tiny-{run}-{k:03d}", layer_sizes=[args.tiny_kib << 10], tag="v1")
            for k in range(args.tiny)
        ]
        for run in range(args.tiny_runs)
    ]
    return big, tiny


def layout_bytes(layout: ImageLayout) -> int:
    """Bytes of the blobs one push moves (layers, config, manifest)."""
    blobs = layout.path / "blobs" / "sha256"
    digests = [*layout.layer_digests, layout.config_digest, layout.manifest_digest]
    return sum((blobs / d.split(":", 1)[1]).stat().st_size for d in digests)


# -- measurements ----------------------------------------------------------------------------


def push_big(topo: Topology, image: ImageLayout, repo: str) -> float:
    reset_skopeo_cache()
    started = time.perf_counter()
    skopeo("copy", image.ref, f"docker://{topo.host}/{repo}:{image.tag}", creds=topo.creds)
    return time.perf_counter() - started


def pull_big(topo: Topology, image: ImageLayout, repo: str, dest: Path) -> float:
    reset_skopeo_cache()
    shutil.rmtree(dest, ignore_errors=True)
    started = time.perf_counter()
    skopeo(
        "copy",
        f"docker://{topo.host}/{repo}:{image.tag}",
        f"oci:{dest}:{image.tag}",
        creds=topo.creds,
    )
    elapsed = time.perf_counter() - started
    missing = [
        d
        for d in image.layer_digests
        if not (dest / "blobs" / "sha256" / d.split(":", 1)[1]).exists()
    ]
    shutil.rmtree(dest, ignore_errors=True)
    if missing:
        raise RuntimeError(f"pull from {topo.name} lacks layers {missing}")
    return elapsed


class Failures(Exception):
    """Some pushes or pulls of a measurement failed (the messages say why)."""

    def __init__(self, messages: list[str], elapsed: float = 0.0) -> None:
        super().__init__(f"{len(messages)} failed: {messages[0] if messages else ''}")
        self.messages = messages
        self.elapsed = elapsed


def _skopeo_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    return lines[-1][-300:] if lines else f"exit status {result.returncode}"


def push_tiny(topo: Topology, images: list[ImageLayout], repo_prefix: str, parallel: int) -> float:
    """Push every image (a failed push does not stop the others); raise Failures, with the
    elapsed time, if any failed."""
    reset_skopeo_cache()
    pool = ThreadPoolExecutor(max_workers=parallel)
    try:
        started = time.perf_counter()
        futures = [
            pool.submit(
                skopeo,
                "copy",
                image.ref,
                f"docker://{topo.host}/{repo_prefix}-{k:03d}:{image.tag}",
                creds=topo.creds,
                check=False,
                timeout=300,
            )
            for k, image in enumerate(images)
        ]
        failed = [
            f"{repo_prefix}-{k:03d}: {_skopeo_error(result)}"
            for k, result in enumerate(future.result() for future in futures)
            if result.returncode != 0
        ]
        elapsed = time.perf_counter() - started
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    if failed:
        raise Failures(failed, elapsed)
    return elapsed


def token_latencies(topo: Topology, count: int) -> dict[str, Any]:
    """GET /service/token with Basic admin credentials, a new connection each (as every
    skopeo process does). Workers are warmed first with anonymous requests so that the
    first authenticated request shows the password check, not Django's start-up."""
    params = {
        "service": "harbor-registry",
        "account": "admin",
        "scope": f"repository:{PROJECT}/token-probe:pull,push",
    }
    with http_client(base_url=topo.url) as anon:
        for _ in range(20):
            anon.get("/service/token", params={"service": "harbor-registry"}).raise_for_status()
    samples: list[float] = []
    for _ in range(count):
        with http_client(base_url=topo.url, auth=ADMIN) as client:
            started = time.perf_counter()
            response = client.get("/service/token", params=params)
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if "token" not in response.json():
                raise RuntimeError("token endpoint answered without a token")
    rest = samples[1:]
    return {
        "requests": count,
        "first_ms": round(samples[0], 2),
        "rest_median_ms": round(median(rest), 2) if rest else None,
        "rest_p90_ms": round(percentile(rest, 0.9), 2) if rest else None,
        "rest_max_ms": round(max(rest), 2) if rest else None,
        "all_median_ms": round(median(samples), 2),
        "samples_ms": [round(s, 2) for s in samples],
    }


# -- access-log breakdown --------------------------------------------------------------------

GUNICORN_LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+ (?P<status>\d{3}) \S+ (?P<ms>\d+)ms\s*$"
)
NGINX_LINE = re.compile(
    r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) \d+ rt=(?P<rt>[\d.]+) urt=(?P<urt>\S+)"
)
REGISTRY_FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')
GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
GO_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def go_duration_ms(text: str) -> float:
    return sum(float(n) * GO_UNIT_MS[u] for n, u in GO_DURATION.findall(text))


def parse_line(source: str, line: str) -> tuple[str, str, str, float] | None:
    """(method, path, status, milliseconds) of one access-log line, or None."""
    if source == "gunicorn":
        if line.startswith("{"):  # JSON access lines (harbor_py/ops/gunicorn_conf.py)
            try:
                doc = json.loads(line)
                path = doc["path"] + (f"?{doc['query']}" if doc.get("query") else "")
                return doc["method"], path, str(doc["status"]), float(doc["duration_ms"])
            except (ValueError, KeyError, TypeError):
                return None
        if match := GUNICORN_LINE.search(line):
            return match["method"], match["path"], match["status"], float(match["ms"])
    elif source == "nginx":
        if match := NGINX_LINE.match(line):
            return match["method"], match["path"], match["status"], float(match["rt"]) * 1000
    elif 'msg="response completed' in line:
        fields = {k: v.strip('"') for k, v in REGISTRY_FIELD.findall(line)}
        try:
            return (
                fields["http.request.method"],
                fields["http.request.uri"],
                fields["http.response.status"],
                go_duration_ms(fields["http.response.duration"]),
            )
        except KeyError:
            return None
    return None


def request_kind(method: str, path: str) -> str:
    path = path.split("?", 1)[0]
    if path.startswith("/service/token"):
        return f"{method} /service/token"
    if path in ("/v2", "/v2/"):
        return f"{method} /v2/"
    if "/blobs/uploads/" in path:
        return f"{method} blob upload" + (" (start)" if path.endswith("/uploads/") else "")
    if "/blobs/" in path:
        return f"{method} blob"
    if "/manifests/" in path:
        return f"{method} manifest"
    if path.startswith("/api/"):
        return f"{method} /api"
    return f"{method} other"


def read_window(path: Path, start: int, end: int) -> list[str]:
    with open(path, "rb") as handle:
        handle.seek(start)
        return handle.read(max(0, end - start)).decode(errors="replace").splitlines()


def breakdown(source: str, lines: list[str], images: int) -> dict[str, Any]:
    """Per request kind: count, per image, median/p90/total milliseconds (and statuses)."""
    times: dict[str, list[float]] = {}
    statuses: dict[str, dict[str, int]] = {}
    for line in lines:
        parsed = parse_line(source, line)
        if parsed is None:
            continue
        method, path, status, ms = parsed
        kind = request_kind(method, path)
        times.setdefault(kind, []).append(ms)
        counts = statuses.setdefault(kind, {})
        counts[status] = counts.get(status, 0) + 1
    result = {}
    for kind, values in sorted(times.items(), key=lambda item: -sum(item[1])):
        result[kind] = {
            "count": len(values),
            "per_image": round(len(values) / images, 2),
            "median_ms": round(median(values) or 0, 1),
            "p90_ms": round(percentile(values, 0.9) or 0, 1),
            "total_ms": round(sum(values)),
            "ms_per_image": round(sum(values) / images, 1),
            "status": statuses[kind],
        }
    return result


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    topologies: dict[str, Topology] = field(default_factory=dict)
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    token: dict[str, Any] | None = None
    windows: dict[tuple[str, str, str], list[tuple[int, int]]] = field(default_factory=dict)
    failures: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    busy_starts: list[str] = field(default_factory=list)
    cpu: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    breakdowns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    settle_seconds: float = 0.0

    def record(self, topo: str, metric: str, value: float) -> None:
        self.samples.setdefault(topo, {}).setdefault(metric, []).append(value)

    def order(self, run: int) -> list[Topology]:
        topos = list(self.topologies.values())
        shift = run % len(topos)
        return topos[shift:] + topos[:shift]

    def measure(
        self, topo: Topology, metric: str, action: Callable[[], float], amount: float
    ) -> float | None:
        """Run one measurement; amount / seconds is recorded. A failed push or pull does not
        stop the bench: it is recorded (and reported) instead of a sample, except for tiny
        pushes, where the images that did get pushed count."""
        # Dirty pages of the previous measurement (a quarter GB per big push or pull) must
        # not be written back during this one: the big figures moved by half without this.
        flushed = time.monotonic()
        os.sync()
        waited, busy = settle(self.args.settle_max)
        self.settle_seconds += waited + time.monotonic() - flushed
        if busy >= 0.15:
            self.busy_starts.append(f"{topo.name} {metric}: CPU {busy:.0%} busy at start")
            log(f"{topo.name:5} {METRICS[metric][0]:9} starts on a busy machine ({busy:.0%})")
        logs = topo.timing_logs()
        starts = {src: path.stat().st_size if path.exists() else 0 for src, path in logs.items()}
        cpu_before = topo.cpu_by_component(process_table())
        clients_before = clients_cpu()
        wall_started = time.perf_counter()
        failed: list[str] = []
        try:
            elapsed: float | None = action()
        except (Failures, AssertionError, RuntimeError, subprocess.TimeoutExpired) as exc:
            failed = exc.messages if isinstance(exc, Failures) else [str(exc)[-500:]]
            elapsed = exc.elapsed if isinstance(exc, Failures) and metric == "tiny_push" else None
            if elapsed is not None:
                amount -= len(failed)
        wall = time.perf_counter() - wall_started
        cpu_after = topo.cpu_by_component(process_table())
        used = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
        used["skopeo (clients)"] = clients_cpu() - clients_before
        account = self.cpu.setdefault((metric, topo.name), {"wall": 0.0, "amount": 0.0})
        account["wall"] += wall
        account["amount"] += amount
        for component, seconds in used.items():
            account[component] = account.get(component, 0.0) + seconds
        # gunicorn writes its access lines within a second (harbor_py.ops.access_log), then
        # supervisord copies them: wait for the last lines of this measurement.
        time.sleep(1.5)
        for src, path in logs.items():
            if path.exists():
                spans = self.windows.setdefault((metric, topo.name, src), [])
                spans.append((starts[src], path.stat().st_size))
        label, unit = METRICS[metric]
        if failed:
            self.failures.setdefault(topo.name, {}).setdefault(metric, []).extend(failed)
            log(f"{topo.name:5} {label:9} {len(failed)} FAILED, e.g. {failed[0]}")
        if elapsed is None:
            return None
        value = amount / elapsed
        self.record(topo.name, metric, value)
        log(f"{topo.name:5} {label:9} {value:8.1f} {unit} ({elapsed:.2f}s)")
        return value

    def run(self, big: list[ImageLayout], tiny: list[list[ImageLayout]]) -> None:
        args = self.args
        for run, image in enumerate(big):
            amount = layout_bytes(image) / 1e6
            for topo in self.order(run):
                repo = f"{PROJECT}/big-r{run}"
                push = functools.partial(push_big, topo, image, repo)
                self.measure(topo, "big_push", push, amount)
                dest = self.workdir / f"pull-{topo.name}-{run}"
                pull = functools.partial(pull_big, topo, image, repo, dest)
                self.measure(topo, "big_pull", pull, amount)
        for run, images in enumerate(tiny):
            for topo in self.order(run):
                tiny_push = functools.partial(
                    push_tiny, topo, images, f"{PROJECT}/tiny-r{run}", args.parallel
                )
                self.measure(topo, "tiny_push", tiny_push, len(images))
        images_per_metric = {
            "big_push": len(big),
            "big_pull": len(big),
            "tiny_push": sum(map(len, tiny)),
        }
        for (metric, name, source), spans in self.windows.items():
            path = self.topologies[name].timing_logs()[source]
            lines = [line for start, end in spans for line in read_window(path, start, end)]
            images = images_per_metric[metric]
            self.breakdowns.setdefault(metric, {}).setdefault(name, {})[source] = {
                "log": str(path),
                "images": images,
                "kinds": breakdown(source, lines, images),
            }

    # -- results ---------------------------------------------------------------------------

    def cpu_report(self) -> dict[str, dict[str, Any]]:
        """CPU milliseconds per image (tiny) or per MB (big), by component, and how busy the
        machine's CPUs were (CPU used by the topology and clients / (wall time x CPUs))."""
        report: dict[str, dict[str, Any]] = {}
        cpus = os.cpu_count() or 1
        for (metric, name), account in self.cpu.items():
            amount = account["amount"] or 1.0
            components = {
                k: round(v * 1000 / amount, 2)
                for k, v in sorted(account.items(), key=lambda item: -item[1])
                if k not in ("wall", "amount") and v > 0
            }
            total = sum(v for k, v in account.items() if k not in ("wall", "amount"))
            report.setdefault(metric, {})[name] = {
                "unit": "ms per image" if metric == "tiny_push" else "ms per MB",
                "total": round(total * 1000 / amount, 2),
                "components": components,
                "cpu_utilisation": round(total / (account["wall"] * cpus), 3),
            }
        return report

    def paired_ratios(self, metric: str) -> list[float]:
        """ours / nginx+distribution for each run: both were measured in the same round of
        the rotation, so the VM's drift between runs mostly cancels. Empty when a failure left
        either side without a sample for some run."""
        ours = self.samples.get("ours", {}).get(metric, [])
        nginx = self.samples.get("nginx", {}).get(metric, [])
        if not ours or len(ours) != len(nginx):
            return []
        return [round(a / b, 3) for a, b in zip(ours, nginx, strict=True)]

    def summary(self) -> dict[str, Any]:
        medians = {
            topo: {metric: median(values) for metric, values in metrics.items()}
            for topo, metrics in self.samples.items()
        }
        ratios: dict[str, dict[str, Any]] = {}
        for metric, goal in GOALS.items():
            ours = medians.get("ours", {}).get(metric)
            nginx = medians.get("nginx", {}).get(metric)
            bare = medians.get("bare", {}).get(metric)
            vs_nginx = ours / nginx if ours and nginx else None
            ratios[metric] = {
                "ours_vs_nginx": vs_nginx,
                "ours_vs_nginx_per_run": self.paired_ratios(metric),
                "ours_vs_bare": ours / bare if ours and bare else None,
                "nginx_vs_bare": nginx / bare if nginx and bare else None,
                "goal_ours_vs_nginx": goal,
                "meets_goal": None if vs_nginx is None else vs_nginx >= goal,
                "ours_failures": len(self.failures.get("ours", {}).get(metric, [])),
            }
        failures = {
            topo: {metric: len(messages) for metric, messages in metrics.items()}
            for topo, metrics in self.failures.items()
        }
        return {
            "medians": medians,
            "samples": self.samples,
            "ratios": ratios,
            "failures": failures,
            "failure_messages": self.failures,
            "cpu": self.cpu_report(),
        }


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(bench: Bench, result: dict[str, Any]) -> None:
    args = bench.args
    names = [n for n in TOPOLOGIES if n in bench.topologies]
    medians, ratios = result["summary"]["medians"], result["summary"]["ratios"]
    print()
    print(
        f"harbor-py bench: {os.cpu_count()} CPUs; "
        f"big image {args.big_layers} x {args.big_mib} MiB "
        f"(median of {args.runs}); {args.tiny} tiny images of {args.tiny_kib} KiB, "
        f"{args.parallel} parallel skopeo (median of {args.tiny_runs})"
    )
    print(f"code measured: {result['code']}")
    settings = " ".join(f"{k}={v}" for k, v in result["registry_settings"].items())
    print(f"distribution in every topology (bare, nginx, ours) runs with: {settings}")
    head = f"{'metric':<17}" + "".join(f"{LABELS[n]:>20}" for n in names)
    head += f"{'ours/nginx+dist':>17}{'goal':>8}{'ours/bare':>11}  verdict"
    print(head)
    print("-" * len(head))
    for metric, (label, unit) in METRICS.items():
        row = f"{label + ' ' + unit:<17}"
        for name in names:
            values = bench.samples.get(name, {}).get(metric, [])
            spread = f" ({min(values):.0f}-{max(values):.0f})" if len(values) > 1 else ""
            if failed := len(bench.failures.get(name, {}).get(metric, [])):
                spread += f" [{failed} FAILED]"
            row += f"{fmt(medians.get(name, {}).get(metric)) + spread:>20}"
        ratio = ratios[metric]
        verdict = {None: "n/a", True: "meets goal", False: "BELOW GOAL"}[ratio["meets_goal"]]
        if ratio["ours_failures"]:
            verdict += f", {ratio['ours_failures']} pushes/pulls FAILED"
        row += (
            f"{fmt(ratio['ours_vs_nginx'], 3):>17}{'>=' + str(GOALS[metric]):>8}"
            f"{fmt(ratio['ours_vs_bare'], 3):>11}  {verdict}"
        )
        print(row)
    print("(medians; the range over runs in parentheses; MB = 10^6 bytes)")
    # The verdict stays on the ratio of the medians; this shows how far one run's ratio moves.
    per_run = [
        f"{METRICS[metric][0]} {min(paired):.3f}-{max(paired):.3f} (median {median(paired):.3f})"
        for metric in METRICS
        if (paired := ratios[metric]["ours_vs_nginx_per_run"])
    ]
    if per_run:
        print(
            "ours/nginx+dist run by run (each pair measured in the same round): "
            + ", ".join(per_run)
        )
    if bench.token:
        t = bench.token
        print(
            f"\ntoken endpoint (GET /service/token, Basic admin, new connection each, "
            f"n={t['requests']}): first {t['first_ms']:.1f} ms (password check), "
            f"rest median {fmt(t['rest_median_ms'])} ms, p90 {fmt(t['rest_p90_ms'])} ms, "
            f"max {fmt(t['rest_max_ms'])} ms (credential cache)"
        )
    for name, metrics in bench.failures.items():
        for metric, messages in metrics.items():
            print(f"\nFAILED on {LABELS[name]}, {METRICS[metric][0]}: {len(messages)}, e.g.")
            for message in messages[:3]:
                print(f"  {message}")
    starts = ", ".join(f"{n} {bench.topologies[n].startup_seconds:.1f}s" for n in names)
    print(f"start-up: {starts}; waited {bench.settle_seconds:.0f}s in total for an idle CPU")
    if bench.busy_starts:
        total = sum(len(v) for m in bench.samples.values() for v in m.values())
        print(
            f"NOTE: {len(bench.busy_starts)} of {total} measurements started while other "
            "processes kept the CPU >=15% busy: absolute figures are noisy (list in the JSON)"
        )
    for metric, per_topo in result["summary"]["cpu"].items():
        unit = "ms per image" if metric == "tiny_push" else "ms per MB (= s per GB)"
        print(f"\nCPU time of {METRICS[metric][0]}, {unit}, by component (ps-style, /proc)")
        for name in names:
            if name not in per_topo:
                continue
            data = per_topo[name]
            parts = ", ".join(f"{k} {v:.1f}" for k, v in data["components"].items())
            print(
                f"  {LABELS[name]:<19} total {data['total']:7.1f}  "
                f"(CPUs {data['cpu_utilisation']:.0%} busy): {parts}"
            )
    sources = {
        "gunicorn": "gunicorn core-access.log (time inside Django)",
        "nginx": "bench nginx access log ($request_time)",
        "registry": "distribution log (http.response.duration)",
    }
    for metric, per_topo in bench.breakdowns.items():
        for name in names:
            for source, data in per_topo.get(name, {}).items():
                if metric != "tiny_push" and source == "registry":
                    continue  # in the JSON
                print(
                    f"\n{METRICS[metric][0]} on {LABELS[name]}, per request kind, from the "
                    f"{sources[source]}; {data['images']} images"
                )
                print(
                    f"  {'request':<26}{'count':>7}{'/image':>8}{'median ms':>11}{'p90 ms':>8}"
                    f"{'total ms':>10}{'ms/image':>10}  status"
                )
                for kind, row in data["kinds"].items():
                    status = ",".join(f"{k}x{v}" for k, v in sorted(row["status"].items()))
                    print(
                        f"  {kind:<26}{row['count']:>7}{row['per_image']:>8}"
                        f"{row['median_ms']:>11}{row['p90_ms']:>8}{row['total_ms']:>10}"
                        f"{row['ms_per_image']:>10}  {status}"
                    )


def copy_logs(bench: Bench, dest: Path) -> None:
    for name, topo in bench.topologies.items():
        target = dest / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        if not topo.log_dir.exists():
            continue
        for path in topo.log_dir.glob("*.log"):
            shutil.copy(path, target / path.name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=5, help="big push/pull runs (median; 5)")
    parser.add_argument("--big-mib", type=int, default=64, help="MiB per big layer (64)")
    parser.add_argument("--big-layers", type=int, default=4, help="layers of the big image (4)")
    parser.add_argument("--tiny", type=int, default=200, help="tiny images per tiny run (200)")
    parser.add_argument("--tiny-kib", type=int, default=4, help="KiB per tiny layer (4)")
    parser.add_argument("--tiny-runs", type=int, default=5, help="tiny push runs (median; 5)")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent skopeo for tiny (8)")
    parser.add_argument(
        "--settle-max", type=float, default=10, help="max seconds to wait for an idle CPU (10)"
    )
    parser.add_argument("--token-requests", type=int, default=50, help="token requests (50)")
    parser.add_argument(
        "--topologies",
        default=",".join(TOPOLOGIES),
        help="comma-separated subset of bare,nginx,ours",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "data" / "bench" / "results.json",
        help="JSON results (data/bench/results.json); logs go to logs/ next to it",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where images and storage go (default: a new temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    args.topologies = [t.strip() for t in args.topologies.split(",") if t.strip()]
    if unknown := set(args.topologies) - set(TOPOLOGIES):
        parser.error(f"unknown topologies: {', '.join(sorted(unknown))}")
    if (
        min(
            args.runs,
            args.big_mib,
            args.big_layers,
            args.tiny,
            args.tiny_kib,
            args.tiny_runs,
            args.parallel,
            args.token_requests,
        )
        < 1
    ):
        parser.error("counts and sizes must be at least 1")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def without_proxy() -> None:
    """Everything goes to 127.0.0.1 directly, whatever proxy the environment names."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(name, None)
        os.environ.pop(name.upper(), None)


def unwind_on_signals() -> None:
    """Ctrl-C, SIGTERM and SIGHUP all unwind through the caller's finally (SIGINT
    explicitly: a shell starting us in the background would otherwise leave it ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)


@contextlib.contextmanager
def cleanup_guard() -> Iterator[None]:
    """Ignore further Ctrl-C/SIGTERM while stopping what was started."""
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    without_proxy()
    unwind_on_signals()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="harbor-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args=args, workdir=workdir)
    started = time.monotonic()
    ok = False
    try:
        log(f"work directory {workdir}; generating images")
        big, tiny = generate_images(workdir / "images", args)
        log(
            f"generated {len(big)} big and {sum(map(len, tiny))} tiny images "
            f"in {time.monotonic() - started:.0f}s"
        )
        for name in args.topologies:
            topo = Topology(name=name, workdir=workdir / name)
            if name == "ours":
                topo.instance = Instance(data_dir=workdir / name / "data", port=topo.port)
                topo.creds = ADMIN
            bench.topologies[name] = topo  # registered first: stopped even if start fails
            log(f"starting {LABELS[name]} on {topo.host}")
            topo.start()
            if name == "ours":
                # Before any other authenticated request: the first one pays the password hash.
                bench.token = token_latencies(topo, args.token_requests)
                assert topo.instance is not None
                topo.instance.create_project(PROJECT, public=False)
        bench.run(big, tiny)
        ok = True
    finally:
        with cleanup_guard():
            if not ok:
                log("stopping after a failure or interruption")
            for name, topo in reversed(bench.topologies.items()):
                log(f"stopping {LABELS[name]}")
                try:
                    topo.stop()
                except Exception as exc:
                    log(f"stopping {name} failed: {exc!r}")
            if bench.topologies:
                with contextlib.suppress(OSError):
                    copy_logs(bench, args.out.parent / "logs")
            if args.keep or args.workdir:
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
        "tools": {
            "skopeo": tool_version("skopeo", "--version"),
            "nginx": tool_version(NGINX, "-v"),
            "docker-registry": tool_version(DOCKER_REGISTRY, "--version"),
        },
        "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "units": {m: unit for m, (_, unit) in METRICS.items()},
        "goals_ours_vs_nginx": GOALS,
        "registry_settings": registry_settings(),
        "summary": bench.summary(),
        "token_endpoint": bench.token,
        "busy_starts": bench.busy_starts,
        "settle_seconds": round(bench.settle_seconds, 1),
        "startup_seconds": {n: round(t.startup_seconds, 2) for n, t in bench.topologies.items()},
        "breakdowns": bench.breakdowns,
        "logs": str(args.out.parent / "logs"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_report(bench, result)
    print(
        f"\nresults: {args.out} (logs in {args.out.parent / 'logs'}); "
        f"total {result['duration_seconds']:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
