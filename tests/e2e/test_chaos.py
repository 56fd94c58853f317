"""The chaos test (issue #27): every part replicated, each killed in turn under load.

Two app nodes behind nginx store on SeaweedFS (one process per role, three volume servers,
replication 001), PostgreSQL is a Patroni pair behind HAProxy (synchronous mode), Redis a
master and a replica under three sentinels. Pushers and pullers loop (each retries what
failed, as a client told to retry does), a replication job and a GC job run. Then, in turn,
SIGKILL: an app node (every process of it), the PostgreSQL primary, the Redis master, a
SeaweedFS volume server. After each, the platform must recover by itself: a push started
after the kill is acknowledged, and the load then runs CHAOS_SECONDS more. A killed app
node is started again before the next kill, as its machine's restart policy would; the
other parts stay down.

At the end: every image whose push succeeded pulls back bit for bit, every job is in a
final state, beat leads, and `registry_fsck` finds no drift. Printed per kill: operations
attempted, failed, how many of the failed ones a retry of the same operation made good,
and the recovery time (the kill to the first acknowledged push started after it).

CHAOS_SECONDS (default 8) sets the load after each recovery; run it for minutes with e.g.
CHAOS_SECONDS=60.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harbor_py.beat_lock import LOCK_SECONDS
from tests.cluster import Cluster, running_cluster
from tests.e2e.load import Clients, Operation
from tests.e2e.replication_support import start_slow_mirror
from tests.imagegen import ImageLayout, make_image, random_layer
from tests.patroni import PatroniCluster, running_patroni
from tests.redis_sentinel import SentinelGroup, running_sentinel_group
from tests.seaweedfs import SeaweedCluster, running_seaweedfs_cluster
from tests.stack import ADMIN_PASSWORD, skopeo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ADMIN = ("admin", ADMIN_PASSWORD)
LOAD_SECONDS = float(os.environ.get("CHAOS_SECONDS", "8"))
RECOVERY_TIMEOUT = 120  # a PostgreSQL failover alone takes its ttl (20 s here)
FINAL_JOB_STATES = {"Success", "Error", "Stopped", "Succeed", "Failed"}


@dataclass
class Parts:
    cluster: Cluster
    patroni: PatroniCluster
    redis: SentinelGroup
    seaweed: SeaweedCluster


@dataclass
class KillReport:
    part: str
    killed_at: float
    recovered_at: float
    ended_at: float = 0.0

    def line(self, operations: list[Operation]) -> str:
        window = [op for op in operations if self.killed_at <= op.ended < self.ended_at]
        window += [op for op in operations if op.started < self.killed_at <= op.ended]
        window = list({id(op): op for op in window}.values())
        failed = [op for op in window if not op.ok]
        retried = [op for op in failed if _retry_succeeded(op, operations)]
        kinds = sorted({op.detail.strip().splitlines()[-1][-90:] for op in failed if op.detail})
        return (
            f"{self.part}: {len(window)} operations attempted, {len(failed)} failed, "
            f"{len(retried)} of those made good by the client's retry; recovered in "
            f"{self.recovered_at - self.killed_at:.1f}s"
            + (f"; errors: {kinds[:3]}" if kinds else "")
        )


def _retry_succeeded(failed: Operation, operations: list[Operation]) -> bool:
    return any(
        op.ok and op.kind == failed.kind and op.reference == failed.reference
        for op in operations
        if op.started >= failed.ended
    )


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    with (
        running_seaweedfs_cluster(tmp_path / "seaweedfs") as seaweed,
        running_patroni() as patroni,
        running_sentinel_group(tmp_path / "redis") as redis_group,
    ):
        bucket = seaweed.store.new_bucket("chaos")
        shared_env = {
            **seaweed.store.harbor_env(bucket),
            **redis_group.env(),
            "DATABASE_URL": patroni.create_database("harbor_chaos"),
        }
        with running_cluster(
            tmp_path / "cluster", shared_env=shared_env, restart_exited=True
        ) as cluster:
            yield Parts(cluster, patroni, redis_group, seaweed)


def _kill_app_node(parts: Parts) -> Callable[[], None]:
    node = parts.cluster.nodes[0]
    node.kill()

    def restart() -> None:
        parts.cluster.start_node(node)
        parts.cluster.wait_node_serving(node)

    return restart


def _kill_postgres_primary(parts: Parts) -> Callable[[], None]:
    primary = parts.patroni.primary()
    assert primary is not None
    parts.patroni.kill(primary)
    parts.patroni.wait_promoted(primary)
    return lambda: None


def _kill_redis_master(parts: Parts) -> Callable[[], None]:
    killed = parts.redis.kill_master()
    parts.redis.wait_promoted(killed)
    return lambda: None


def _kill_volume_server(parts: Parts) -> Callable[[], None]:
    parts.seaweed.kill("volume1")
    return lambda: None


KILLS: list[tuple[str, Callable[[Parts], Callable[[], None]]]] = [
    ("app node", _kill_app_node),
    ("PostgreSQL primary", _kill_postgres_primary),
    ("Redis master", _kill_redis_master),
    ("SeaweedFS volume server", _kill_volume_server),
]


def _start_gc(cluster: Cluster) -> str:
    with cluster.front.client() as api:
        response = api.post("/api/v2.0/system/gc/schedule", json={"schedule": {"type": "Manual"}})
    assert response.status_code == 201, response.text
    return response.headers["Location"].split("/api/v2.0", 1)[-1]


def _wait_final(cluster: Cluster, location: str, field: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    with cluster.front.client() as api:
        while True:
            response = api.get(f"/api/v2.0{location}")
            if response.status_code == 200 and response.json()[field] in FINAL_JOB_STATES:
                return response.json()[field]
            assert time.monotonic() < deadline, f"{response.text}\n{cluster.logs()}"
            time.sleep(1)


def _seed(cluster: Cluster, base: Path) -> list[tuple[str, ImageLayout]]:
    cluster.front.create_project("ha")
    cluster.front.create_project("mirror")
    seeds = []
    for i in range(6):
        layout = make_image(base / f"seed{i}", layers=[random_layer(1024 * 1024)])
        skopeo("copy", layout.ref, f"docker://{cluster.front.host}/ha/seed{i}:v1", creds=ADMIN)
        seeds.append((f"ha/seed{i}:v1", layout))
    return seeds


def test_killing_each_part_in_turn_loses_nothing(parts: Parts, tmp_path: Path) -> None:
    cluster = parts.cluster
    seeds = _seed(cluster, tmp_path / "seeds")
    clients = Clients(cluster.front.host, tmp_path / "clients", retry=True)
    reports: list[KillReport] = []
    jobs: list[tuple[str, str, str]] = []  # (what, location, status field)
    with clients.running(pushers=2, pullers=1):
        time.sleep(LOAD_SECONDS)
        for part, kill in KILLS:
            if part == "app node":  # the replication job runs while a node dies
                jobs.append(("replication", start_slow_mirror(cluster.front)[0], "status"))
            if part == "Redis master":  # GC while Redis fails over
                jobs.append(("GC", _start_gc(cluster), "job_status"))
            killed_at = time.monotonic()
            restart = kill(parts)
            recovered_at = clients.first_push_acknowledged(killed_at, RECOVERY_TIMEOUT)
            assert recovered_at is not None, f"no push after the {part} kill\n{cluster.logs()}"
            report = KillReport(part, killed_at, recovered_at)
            reports.append(report)
            time.sleep(LOAD_SECONDS)
            restart()
            report.ended_at = time.monotonic()
        states = {what: _wait_final(cluster, loc, field, 600) for what, loc, field in jobs}
        # Only one GC runs at a time: the last starts once the one of the Redis kill ended.
        states["GC after the kills"] = _wait_final(cluster, _start_gc(cluster), "job_status", 600)
        time.sleep(3)  # the retries of the last failures
        stopping_at = time.monotonic()

    operations = list(clients.operations)
    print(f"\nchaos ({LOAD_SECONDS:.0f}s of load after each recovery):")
    for report in reports:
        print("  " + report.line(operations))
    failed = [op for op in operations if not op.ok]
    restarts = [f"{r.node} {r.role} (exit {r.exit_status})" for r in cluster.restarts]
    print(
        f"  in all: {len(operations)} operations ({len(clients.pushed)} pushes acknowledged),"
        f" {len(failed)} failed; jobs: {states}; processes that exited and were started"
        f" again: {restarts or 'none'}"
    )

    lost = clients.verify_all(tmp_path / "final", extra=seeds)
    assert not lost, lost
    # Whatever failed went through when the client tried again (but for the operations
    # cut short by the end of the load).
    unretried = [
        op for op in failed if op.ended < stopping_at - 2 and not _retry_succeeded(op, operations)
    ]
    assert not unretried, [f"{op.kind} {op.reference}: {op.detail}" for op in unretried]
    # What failed was told to retry (503 and Retry-After), never that the server broke (500)
    # nor that nginx had no node left (502), but for requests in flight on the killed node.
    app_node = reports[0]
    broken = [
        op
        for op in failed
        if re.search(r"\b50[02]\b", op.detail) and not op.started < app_node.killed_at < op.ended
    ]
    assert not broken, [f"{op.kind}: {op.detail}" for op in broken[:3]]
    assert states["replication"] == "Succeed", states
    assert all(state in FINAL_JOB_STATES for state in states.values()), states
    cluster.wait_beat_leader(timeout=LOCK_SECONDS + 30)
    drift = json.loads(cluster.manage("registry_fsck", "--json", "--grace-minutes", "0").stdout)
    assert not any(v for k, v in drift.items() if k != "repaired"), json.dumps(drift)
