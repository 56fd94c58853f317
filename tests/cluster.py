"""A highly available deployment on one machine, with real processes: app nodes (each a
distribution, gunicorn, a Celery worker and a beat candidate) behind one nginx, sharing
PostgreSQL, Redis and the registry storage. Every process is started as the compose file
starts its container (`manage.py serve <role>`), from the same templates."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from redis.sentinel import Sentinel

from harbor_py.core.runtime import SentinelConfig
from tests.stack import (
    REPO_ROOT,
    Instance,
    database_url,
    drop_database,
    free_port,
    instance_environment,
    migrated_template,
    recreate_database,
)

REDIS_DB = 5  # reserved for this topology's tests: flushed when a cluster starts
NODE_ROLES = ("registry", "web", "worker", "beat")


@dataclass
class Node:
    name: str
    web_port: int = field(default_factory=free_port)
    registry_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    down: bool = False  # killed as a machine: nothing of it is restarted

    def pids(self) -> set[int]:
        """Every process of the node, children included (gunicorn and Celery workers)."""
        found: set[int] = set()
        for process in self.processes.values():
            group = os.getpgid(process.pid) if process.poll() is None else None
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and group is not None:
                    try:
                        if os.getpgid(int(entry.name)) == group:
                            found.add(int(entry.name))
                    except ProcessLookupError:
                        pass
        return found

    def kill(self) -> None:
        """SIGKILL, as when the machine dies: no process gets to clean up."""
        self.down = True
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        for process in self.processes.values():
            process.wait(timeout=10)


@dataclass
class Restart:
    node: str
    role: str
    exit_status: int | None
    at: float  # time.monotonic()


class Cluster:
    def __init__(
        self, base: Path, node_count: int = 2, shared_env: dict[str, str] | None = None
    ) -> None:
        """shared_env: what every process gets on top, e.g. REDIS_SENTINELS (then
        REDIS_URL is not passed) or HARBOR_STORAGE=s3."""
        self.shared_env = shared_env or {}
        self.restarts: list[Restart] = []
        self._watching = threading.Event()
        self._watcher: threading.Thread | None = None
        self.base = base
        self.port = free_port()
        self.db_name = f"harbor_ha_{self.port}"
        self.data_dir = base / "shared"
        self.log_dir = base / "process-logs"
        self.nodes = [Node(f"node{i + 1}") for i in range(node_count)]
        self.front = Instance(data_dir=self.data_dir, port=self.port)  # API helpers only
        self.lb: subprocess.Popen[bytes] | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:6379/{REDIS_DB}"

    def redis(self) -> redis.Redis:
        """A client of the cluster's Redis: through its sentinels when it has them."""
        if "REDIS_SENTINELS" not in self.shared_env:
            return redis.Redis.from_url(self.redis_url)
        config = SentinelConfig.parse(
            self.shared_env["REDIS_SENTINELS"],
            self.shared_env.get("REDIS_SENTINEL_MASTER", ""),
            self.shared_env.get("REDIS_DB", "0"),
        )
        return Sentinel(list(config.sentinels), socket_timeout=2).master_for(
            config.master, db=config.db, socket_timeout=2
        )

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            "DATABASE_URL": database_url(self.db_name),
            "HARBOR_CACHE_PREFIX": f"ha-{self.port}",
            # the nodes run no built-in scanner (NODE_ROLES): health leaves it out
            "HARBOR_BUILTIN_SCANNER": "false",
        }
        if "REDIS_SENTINELS" not in self.shared_env:
            values["REDIS_URL"] = self.redis_url
        return instance_environment(
            self.port, self.data_dir, **{**values, **self.shared_env, **extra}
        )

    def _spawn(self, label: str, role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{label}-{role}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "manage.py", "serve", role],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group per role: killed as a whole
        )

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A one-shot `manage.py` command with the nodes' settings."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(),
            check=check,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def prepare(self) -> None:
        """The one-shot `migrate` service of the compose file."""
        recreate_database(self.db_name, template=migrated_template())
        self.redis().flushdb()
        self.manage("platform", "prepare")

    def start_node(self, node: Node, roles: tuple[str, ...] = NODE_ROLES) -> None:
        env = self.env(
            HARBOR_NODE_NAME=node.name,
            HARBOR_WEB_BIND=f"127.0.0.1:{node.web_port}",
            HARBOR_REGISTRY_BIND=f"127.0.0.1:{node.registry_port}",
            HARBOR_REGISTRY_URL=f"http://127.0.0.1:{node.registry_port}",
            HARBOR_WEB_WORKERS="2",
        )
        for role in roles:
            node.environments[role] = env
            node.processes[role] = self._spawn(node.name, role, env)
        node.down = False  # only now: the watcher must not restart what is being replaced

    def restart_exited(self, every: float = 0.5) -> None:
        """From now on, start again any process of a live node that exits by itself, as
        the compose file's `restart: unless-stopped` (or a systemd unit's
        `Restart=always`) does; each restart is recorded in `restarts`."""
        self._watching.set()

        def watch() -> None:
            while self._watching.is_set():
                for node in self.nodes:
                    for role, process in list(node.processes.items()):
                        if node.down or process.poll() is None or not self._watching.is_set():
                            continue
                        if node.processes.get(role) is not process:  # stopped by stop_role
                            continue
                        restart = Restart(node.name, role, process.returncode, time.monotonic())
                        self.restarts.append(restart)
                        node.processes[role] = self._spawn(node.name, role, node.environments[role])
                time.sleep(every)

        self._watcher = threading.Thread(target=watch, daemon=True)
        self._watcher.start()

    def stop_role(self, node: Node, role: str) -> None:
        """A clean stop (SIGTERM), as an operator's restart of one process does."""
        process = node.processes.pop(role)
        os.killpg(os.getpgid(process.pid), signal.SIGTERM)
        process.wait(timeout=60)

    def start_balancer(self) -> None:
        env = self.env(
            HARBOR_NODE_NAME="lb",
            HARBOR_LISTEN=f"127.0.0.1:{self.port}",
            HARBOR_CORE_UPSTREAMS=",".join(f"127.0.0.1:{n.web_port}" for n in self.nodes),
            HARBOR_REGISTRY_UPSTREAMS=",".join(f"127.0.0.1:{n.registry_port}" for n in self.nodes),
        )
        self.lb = self._spawn("lb", "nginx", env)

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.front.url}/api/v2.0/health", timeout=5)
                if response.status_code == 200 and response.json()["status"] == "healthy":
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise RuntimeError(f"cluster not healthy: {last}\n{self.logs()}")

    def wait_node_serving(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                web = httpx.get(f"http://127.0.0.1:{node.web_port}/api/v2.0/ping", timeout=2)
                registry = httpx.get(f"http://127.0.0.1:{node.registry_port}/v2/", timeout=2)
                if web.status_code == 200 and registry.status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{node.name} did not start\n{self.logs()}")

    def logs(self, tail: int = 30) -> str:
        out = []
        for path in sorted(self.log_dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self) -> None:
        self._watching.clear()
        if self._watcher is not None:
            self._watcher.join(timeout=30)
        for node in self.nodes:
            for process in node.processes.values():
                if process.poll() is None:
                    os.killpg(os.getpgid(process.pid), signal.SIGTERM)
        if self.lb and self.lb.poll() is None:
            os.killpg(os.getpgid(self.lb.pid), signal.SIGTERM)
        for node in self.nodes:
            for process in node.processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        if self.lb:
            self.lb.wait(timeout=30)
        drop_database(self.db_name)

    def wait_beat_leader(self, timeout: float = 60) -> None:
        """Until some node's beat holds the leader lock (harbor_py/beat_lock.py)."""
        deadline = time.monotonic() + timeout
        while not self.redis().get(f"ha-{self.port}:beat-leader"):
            assert time.monotonic() < deadline, f"no beat leads\n{self.logs()}"
            time.sleep(0.5)


@contextlib.contextmanager
def running_cluster(
    base: Path, shared_env: dict[str, str] | None = None, restart_exited: bool = False
) -> Iterator[Cluster]:
    """Prepared, every node serving behind the balancer, stopped afterwards. The first
    node starts alone until its beat holds the leader lock; the others wait behind it.
    restart_exited: processes that exit by themselves are started again (Cluster.restart_exited)."""
    cluster = Cluster(base, shared_env=shared_env)
    cluster.prepare()
    try:
        first, *others = cluster.nodes
        cluster.start_node(first)
        cluster.wait_node_serving(first)
        cluster.wait_beat_leader()
        for node in others:
            cluster.start_node(node)
            cluster.wait_node_serving(node)
        cluster.start_balancer()
        cluster.wait_healthy()
        if restart_exited:
            cluster.restart_exited()
        yield cluster
    finally:
        cluster.stop()
