"""A real PostgreSQL that fails over, on one machine: etcd (Debian `etcd-server`) as the
distributed store, two Patroni nodes (Debian `patroni`) each running a PostgreSQL 15 from
/usr/lib/postgresql/15/bin, in synchronous mode, and HAProxy in front sending connections to
whichever node Patroni's REST API reports as the primary (GET /primary answers 200 only
there). The app's DATABASE_URL names HAProxy. The layout is deploy/patroni/'s.

PostgreSQL refuses to run as root: Patroni and its servers run as the `postgres` user, in a
directory under /tmp that the user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import yaml

from tests.stack import REPO_ROOT, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEPLOY = REPO_ROOT / "deploy" / "patroni"


@dataclass
class PatroniNode:
    name: str
    pg_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def role(self) -> str:
        """Patroni's word for the node: primary, replica, or '' when its API is down."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.api_port}/patroni", timeout=2).json()["role"]
        except (httpx.HTTPError, ValueError, KeyError):
            return ""

    def is_primary(self) -> bool:
        return self._answers_200("/primary")

    def is_sync_standby(self) -> bool:
        return self._answers_200("/sync")

    def _answers_200(self, path: str) -> bool:
        """Patroni's health endpoints answer 200 when the node is what the path names."""
        try:
            response = httpx.get(f"http://127.0.0.1:{self.api_port}{path}", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


@dataclass
class PatroniCluster:
    base: Path
    scope: str
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    proxy_port: int = field(default_factory=free_port)
    nodes: list[PatroniNode] = field(
        default_factory=lambda: [PatroniNode("pg1"), PatroniNode("pg2")]
    )
    etcd: subprocess.Popen[bytes] | None = None
    proxy: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.proxy_port}/{database}"

    def primary(self) -> PatroniNode | None:
        return next((n for n in self.nodes if n.process and n.is_primary()), None)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def kill(self, node: PatroniNode) -> None:
        """SIGKILL Patroni and its PostgreSQL, as when the node's machine dies."""
        assert node.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(timeout=10)
        # The postmaster runs in Patroni's process group; its children follow it.
        _kill_postgres_of(self.base / node.name)
        node.process = None

    def wait_promoted(self, old: PatroniNode, timeout: float = 90) -> tuple[PatroniNode, float]:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            primary = self.primary()
            if primary is not None and primary is not old:
                return primary, time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"no standby promoted in {timeout}s\n{self.logs()}")

    def wait_ready(self, timeout: float = 120) -> None:
        """A primary, a synchronous standby, and HAProxy routing to the primary."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.primary() and any(n.is_sync_standby() for n in self.nodes):
                with (
                    contextlib.suppress(psycopg.Error),
                    psycopg.connect(self.url(), connect_timeout=2) as conn,
                ):
                    if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            time.sleep(0.5)
        raise RuntimeError(f"Patroni cluster not ready\n{self.logs()}")

    def logs(self, tail: int = 30) -> str:
        out = []
        for path in sorted(self.base.rglob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"== {path.relative_to(self.base)}\n" + "\n".join(lines))
        return "\n".join(out)


def _kill_postgres_of(data_parent: Path) -> None:
    marker = str(data_parent / "data").encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGKILL)


def _as_postgres() -> dict[str, object]:
    user = pwd.getpwnam("postgres")

    def demote() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return {"preexec_fn": demote, "start_new_session": True}


def _node_config(cluster: PatroniCluster, node: PatroniNode) -> dict:
    """deploy/patroni/patroni.yml with this node's names, ports and directories, and
    shorter timings so that a failover takes seconds, not a minute."""
    config = yaml.safe_load((DEPLOY / "patroni.yml").read_text())
    home = cluster.base / node.name
    config["scope"] = cluster.scope
    config["name"] = node.name
    config["restapi"]["listen"] = config["restapi"]["connect_address"] = (
        f"127.0.0.1:{node.api_port}"
    )
    config["etcd3"]["hosts"] = [f"127.0.0.1:{cluster.etcd_port}"]
    dcs = config["bootstrap"]["dcs"]
    dcs.update(ttl=20, loop_wait=2, retry_timeout=5)
    postgresql = config["postgresql"]
    postgresql["listen"] = postgresql["connect_address"] = f"127.0.0.1:{node.pg_port}"
    postgresql["data_dir"] = str(home / "data")
    postgresql["bin_dir"] = str(PG_BIN)
    postgresql["pgpass"] = str(home / "pgpass")
    postgresql["parameters"]["unix_socket_directories"] = str(home)
    config["log"] = {"level": "INFO", "dir": str(home)}
    return config


def _haproxy_config(cluster: PatroniCluster) -> str:
    lines = (
        (DEPLOY / "haproxy.cfg")
        .read_text()
        .replace("bind :5000", f"bind 127.0.0.1:{cluster.proxy_port}")
    )
    kept = [line for line in lines.splitlines() if not line.startswith("    server ")]
    kept += [
        f"    server {n.name} 127.0.0.1:{n.pg_port} check port {n.api_port}" for n in cluster.nodes
    ]
    return "\n".join(kept) + "\n"


def _spawn(argv: list[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]  # kwargs: Popen's


@contextlib.contextmanager
def running_patroni() -> Iterator[PatroniCluster]:
    for needed in (
        "/usr/bin/etcd",
        "/usr/bin/patroni",
        "/usr/sbin/haproxy",
        str(PG_BIN / "postgres"),
    ):
        if not os.path.exists(needed):
            raise RuntimeError(f"{needed} is missing (deploy/install-system.sh test)")
    base = Path(tempfile.mkdtemp(prefix="harbor-patroni-"))
    user = pwd.getpwnam("postgres")
    os.chown(base, user.pw_uid, user.pw_gid)
    cluster = PatroniCluster(base=base, scope=f"harbor-test-{base.name[-8:]}")
    try:
        cluster.etcd = _spawn(
            [
                "/usr/bin/etcd",
                *("--name", "etcd1", "--data-dir", str(base / "etcd")),
                *("--listen-client-urls", f"http://127.0.0.1:{cluster.etcd_port}"),
                *("--advertise-client-urls", f"http://127.0.0.1:{cluster.etcd_port}"),
                *("--listen-peer-urls", f"http://127.0.0.1:{cluster.etcd_peer_port}"),
                *("--initial-advertise-peer-urls", f"http://127.0.0.1:{cluster.etcd_peer_port}"),
                *("--initial-cluster", f"etcd1=http://127.0.0.1:{cluster.etcd_peer_port}"),
            ],
            base / "etcd.log",
            start_new_session=True,
        )
        patroni = "/usr/bin/patroni"  # Debian's, on /usr/bin/python3: the postgres user can run it
        for node in cluster.nodes:
            home = base / node.name
            home.mkdir()
            os.chown(home, user.pw_uid, user.pw_gid)
            config = home / "patroni.yml"
            config.write_text(yaml.safe_dump(_node_config(cluster, node)))
            node.process = _spawn(
                [patroni, str(config)], home / "patroni.out.log", **_as_postgres()
            )
            if node is cluster.nodes[0]:  # the first bootstraps; the second clones it
                deadline = time.monotonic() + 90
                while not node.is_primary():
                    if time.monotonic() > deadline or node.process.poll() is not None:
                        raise RuntimeError(f"{node.name} did not bootstrap\n{cluster.logs()}")
                    time.sleep(0.5)
        (base / "haproxy.cfg").write_text(_haproxy_config(cluster))
        cluster.proxy = _spawn(
            [
                shutil.which("haproxy") or "/usr/sbin/haproxy",
                "-db",
                "-f",
                str(base / "haproxy.cfg"),
            ],
            base / "haproxy.log",
            start_new_session=True,
        )
        cluster.wait_ready()
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(base, ignore_errors=True)


def _stop(cluster: PatroniCluster) -> None:
    for node in cluster.nodes:
        if node.process and node.process.poll() is None:
            os.killpg(node.process.pid, signal.SIGTERM)  # Patroni stops its PostgreSQL
    for node in cluster.nodes:
        if node.process:
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.process.pid, signal.SIGKILL)
        _kill_postgres_of(cluster.base / node.name)
    for process in (cluster.proxy, cluster.etcd):
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
