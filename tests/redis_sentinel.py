"""A real Redis group managed by Sentinel on loopback: a master, a replica and three
sentinels (Debian `redis-server` and `redis-sentinel`), each on a free port, for the tests
of failover. No persistence: a killed master comes back, if at all, as a new replica."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.stack import free_port

MASTER_NAME = "harbor"
DOWN_AFTER_MS = 1000


@dataclass
class SentinelGroup:
    base: Path
    servers: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    sentinels: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def sentinel_list(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinels)

    def env(self, db: int = 0) -> dict[str, str]:
        """What an app node is given (harbor_py.core.runtime)."""
        return {
            "REDIS_SENTINELS": self.sentinel_list,
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_DB": str(db),
        }

    def master_port(self) -> int | None:
        """The master's port as a majority of the live sentinels names it."""
        votes: dict[int, int] = {}
        for port, process in self.sentinels.items():
            if process.poll() is not None:
                continue
            with contextlib.suppress(redis.RedisError):
                client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
                _, master = client.sentinel_get_master_addr_by_name(MASTER_NAME)
                votes[int(master)] = votes.get(int(master), 0) + 1
        best = max(votes.items(), key=lambda item: item[1], default=None)
        return best[0] if best and best[1] >= 2 else None

    def kill_master(self) -> int:
        """SIGKILL the master, as when its machine dies; returns its port."""
        port = self.master_port()
        assert port is not None
        process = self.servers.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return port

    def wait_promoted(
        self, old: int, timeout: float = 30, since: float | None = None
    ) -> tuple[int, float]:
        """Wait for the sentinels to name a new master that answers as one; returns its
        port and the seconds since `since` (a time.monotonic(); by default, now)."""
        started = time.monotonic() if since is None else since
        while time.monotonic() - started < timeout:
            port = self.master_port()
            if port not in (None, old):
                with contextlib.suppress(redis.RedisError):
                    role = redis.Redis(port=port, socket_timeout=1).execute_command("ROLE")
                    if role[0] == b"master":
                        return port, time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"no replica promoted in {timeout}s\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-2000:]}"
            for p in sorted(self.base.glob("*.log"))
        )

    def stop(self) -> None:
        for process in (*self.servers.values(), *self.sentinels.values()):
            if process.poll() is None:
                process.terminate()
        for process in (*self.servers.values(), *self.sentinels.values()):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _spawn(base: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    log = (base / f"{name}.log").open("ab")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=base)


def _server(base: Path, port: int, replica_of: int | None = None) -> subprocess.Popen[bytes]:
    argv = [
        shutil.which("redis-server") or "/usr/bin/redis-server",
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", str(base), "--dbfilename", f"dump-{port}.rdb"),
    ]
    if replica_of:
        argv += ["--replicaof", "127.0.0.1", str(replica_of)]
    return _spawn(base, f"redis-{port}", argv)


def _sentinel(base: Path, port: int, master: int) -> subprocess.Popen[bytes]:
    # A sentinel rewrites its own configuration file (the known replicas, the epoch).
    conf = base / f"sentinel-{port}.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {base}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} 10000\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )
    binary = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"
    return _spawn(base, f"sentinel-{port}", [binary, str(conf)])


def _wait_answering(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis(port=port, socket_timeout=1).ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextlib.contextmanager
def running_sentinel_group(base: Path) -> Iterator[SentinelGroup]:
    if not os.path.exists("/usr/bin/redis-sentinel"):
        raise RuntimeError("redis-sentinel is not installed (deploy/install-system.sh test)")
    base.mkdir(parents=True, exist_ok=True)
    group = SentinelGroup(base)
    master, replica = free_port(), free_port()
    try:
        group.servers[master] = _server(base, master)
        _wait_answering(master)
        group.servers[replica] = _server(base, replica, replica_of=master)
        _wait_answering(replica)
        for _ in range(3):
            port = free_port()
            group.sentinels[port] = _sentinel(base, port, master)
            _wait_answering(port)
        _wait_in_sync(group, replica)
        yield group
    finally:
        group.stop()


def _wait_in_sync(group: SentinelGroup, replica: int, timeout: float = 20) -> None:
    """Until the replica is linked to its master and every sentinel has seen it and the
    two other sentinels (one that knows no replica has nothing to promote; one that knows
    no peer cannot reach the quorum)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = redis.Redis(port=replica).info("replication")
        sentinels = [redis.Redis(port=port) for port in group.sentinels]
        replicas = [s.sentinel_slaves(MASTER_NAME) for s in sentinels]
        peers = [len(s.sentinel_sentinels(MASTER_NAME)) for s in sentinels]
        if info.get("master_link_status") == "up" and all(replicas) and min(peers) == 2:
            return
        time.sleep(0.1)
    raise RuntimeError(f"replica not in sync\n{group.logs()}")
