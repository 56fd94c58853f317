"""Redis that fails over: two app nodes behind nginx use a Redis master, its replica and three
sentinels (REDIS_SENTINELS) for Celery's broker, the cache, the beat leader lock and the
pull-time aggregation. The master is killed (SIGKILL) while clients push and pull; the
sentinels promote the replica, and after it nothing fails: pushes, pulls, a GC job created
in the middle of the failover, pull counting and beat's leadership all go on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harbor_py.beat_lock import LOCK_SECONDS
from jobs.lease import RESUME_EVERY, STALE_SECONDS
from tests.cluster import Cluster, running_cluster
from tests.e2e.load import Clients
from tests.imagegen import make_image, random_layer
from tests.redis_sentinel import SentinelGroup, running_sentinel_group
from tests.stack import ADMIN_PASSWORD, skopeo

pytestmark = pytest.mark.e2e
ADMIN = ("admin", ADMIN_PASSWORD)
GRACE_SECONDS = 5  # after the promotion: requests in flight during the failover may fail


@pytest.fixture
def group(tmp_path: Path):
    with running_sentinel_group(tmp_path / "redis") as group:
        yield group


@pytest.fixture
def cluster(tmp_path: Path, group: SentinelGroup):
    with running_cluster(tmp_path / "cluster", shared_env=group.env()) as cluster:
        yield cluster


def _repository_pulls(cluster: Cluster, repository: str) -> int:
    with cluster.front.client() as api:
        response = api.get(f"/api/v2.0/projects/ha/repositories/{repository}")
        response.raise_for_status()
        return response.json()["pull_count"]


def _gc_until_final(cluster: Cluster, location: str, deadline: float) -> dict:
    with cluster.front.client() as api:
        while True:
            job = api.get(location).json()
            if job["job_status"] in ("Success", "Error", "Stopped"):
                return job
            assert time.monotonic() < deadline, f"{job}\n{cluster.logs()}"
            time.sleep(1)


def test_a_redis_master_failover_loses_nothing(
    cluster: Cluster, group: SentinelGroup, tmp_path: Path
) -> None:
    cluster.front.create_project("ha")
    seed = make_image(tmp_path / "seed", layers=[random_layer(256 * 1024)])
    skopeo("copy", seed.ref, f"docker://{cluster.front.host}/ha/seed:v1", creds=ADMIN)
    clients = Clients(cluster.front.host, tmp_path / "clients")
    with clients.running(pushers=1, pullers=1):
        time.sleep(6)
        killed = group.kill_master()
        killed_at = time.monotonic()
        # A job created while the sentinels still name the dead master: the API waits for
        # the promotion (harbor_py.core.redis_conn) and answers; the job is not lost.
        with cluster.front.client() as api:
            created = api.post(
                "/api/v2.0/system/gc/schedule", json={"schedule": {"type": "Manual"}}
            )
        assert created.status_code == 201, created.text
        promoted, failover_seconds = group.wait_promoted(killed, since=killed_at)

        job = _gc_until_final(
            cluster,
            created.headers["Location"],
            killed_at + STALE_SECONDS + 2 * RESUME_EVERY + 60,
        )
        pulls_before = _repository_pulls(cluster, "seed")
        target = tmp_path / "after"
        seed_ref = f"docker://{cluster.front.host}/ha/seed:v1"
        skopeo("copy", seed_ref, f"oci:{target}:latest", creds=ADMIN)
        time.sleep(6)  # a last round of client operations

    promoted_at = killed_at + failover_seconds
    during = [op for op in clients.operations if op.ended >= killed_at and op.started < promoted_at]
    after = [op for op in clients.operations if op.started > promoted_at + GRACE_SECONDS]
    failed = [op for op in clients.operations if not op.ok]
    print(
        f"\nRedis failover: master :{killed} killed, :{promoted} promoted in"
        f" {failover_seconds:.1f}s; {len(clients.operations)} operations, {len(during)} in"
        f" flight during the failover, {len(failed)} failed in all"
        f" ({[f'{op.kind}: {op.detail[-120:]}' for op in failed[:3]]}); GC {job['job_status']}"
    )
    assert job["job_status"] == "Success", job
    assert len(after) >= 2, "too few operations after the promotion"
    assert not [op for op in after if not op.ok], [op.detail for op in after if not op.ok][:3]

    # The pull-time aggregation counts pulls made after the failover (beat flushes it
    # every 10 s) and a beat leads, its lock renewed on the new master.
    deadline = time.monotonic() + 60
    while _repository_pulls(cluster, "seed") <= pulls_before:
        assert time.monotonic() < deadline, "a pull after the failover was not counted"
        time.sleep(1)
    cluster.wait_beat_leader(timeout=LOCK_SECONDS + 30)

    # Every image whose push succeeded pulls back bit for bit.
    lost = clients.verify_all(tmp_path / "final")
    assert not lost, lost
