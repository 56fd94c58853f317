"""High availability by shared storage: two app nodes behind nginx share PostgreSQL, Redis
and the registry storage. One node is killed (SIGKILL, every process) while clients push
and pull in a loop and a replication job runs on it. After the requests that were in
flight, everything goes on through the other node; no pushed image is lost; the job is
run again by the surviving worker and finishes; beat fails over to the surviving node."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from harbor_py.beat_lock import LOCK_SECONDS
from jobs.lease import STALE_SECONDS
from tests.cluster import Cluster, running_cluster
from tests.e2e.load import Clients
from tests.e2e.replication_support import start_slow_mirror
from tests.imagegen import make_image, random_layer
from tests.stack import ADMIN_PASSWORD, skopeo

pytestmark = pytest.mark.e2e
ADMIN = ("admin", ADMIN_PASSWORD)
GRACE_SECONDS = 10  # requests in flight when the node dies may fail; none after this


@pytest.fixture
def cluster(tmp_path: Path):
    # The first node's beat takes the leader lock; the second's waits behind it.
    with running_cluster(tmp_path) as cluster:
        yield cluster


def _runner_task(cluster: Cluster, execution_id: int) -> tuple[str, str, int]:
    """(status, worker, run_count) of the job's own task, from the database."""
    import psycopg

    from tests.stack import PG_DSN

    conn = psycopg.connect(PG_DSN.rsplit("/", 1)[0] + f"/{cluster.db_name}")
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT status, worker, run_count FROM task WHERE execution_id = %s ORDER BY id",
                [execution_id],
            )
            return cursor.fetchone()
    finally:
        conn.close()


def test_losing_a_node_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    first, second = cluster.nodes
    cluster.front.create_project("ha")
    cluster.front.create_project("mirror")
    seeds = []
    for i in range(6):
        layout = make_image(tmp_path / f"seed{i}", layers=[random_layer(1024 * 1024)])
        skopeo("copy", layout.ref, f"docker://{cluster.front.host}/ha/seed{i}:v1", creds=ADMIN)
        seeds.append(layout)

    # The job must run on the node that dies: the other node's worker is stopped meanwhile
    # (a paused one would not do: its connection's blocking pop can still take the message).
    cluster.stop_role(second, "worker")
    location, execution_id = start_slow_mirror(cluster.front)
    deadline = time.monotonic() + 60
    while (task := _runner_task(cluster, execution_id))[0] != "Running":
        assert time.monotonic() < deadline, f"the job did not start: {task}\n{cluster.logs()}"
        time.sleep(0.3)
    cluster.start_node(second, roles=("worker",))
    first_pids = first.pids()
    assert int(task[1].rsplit(":", 1)[1]) in first_pids, task

    clients = Clients(cluster.front.host, tmp_path / "clients")
    threads = [threading.Thread(target=clients.pusher, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=clients.puller, args=(10 + i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(8)
    first.kill()
    killed_at = time.monotonic()

    # The job: run again by the surviving worker (after its lease goes stale, resumed by
    # the beat that took over the leader lock), and finished.
    deadline = killed_at + LOCK_SECONDS + STALE_SECONDS + 150
    with cluster.front.client() as api:
        while True:
            execution = api.get(f"/api/v2.0{location}").json()
            if execution["status"] not in ("InProgress", "Pending", "Running"):
                break
            assert time.monotonic() < deadline, f"{execution}\n{cluster.logs()}"
            time.sleep(1)
    time.sleep(5)  # a last round of client operations after the job
    clients.stopping.set()
    for thread in threads:
        thread.join(timeout=200)
    _status, worker, runs = _runner_task(cluster, execution_id)

    after = [op for op in clients.operations if op.started > killed_at + GRACE_SECONDS]
    failures = [op for op in after if not op.ok]
    print(
        f"\nHA: {len(clients.operations)} operations, {len(after)} after the grace period,"
        f" {sum(not op.ok for op in clients.operations)} failed in all; job run {runs} on {worker}"
    )
    assert execution["status"] == "Succeed", execution
    assert runs >= 2 and int(worker.rsplit(":", 1)[1]) not in first_pids
    assert len([op for op in after if op.kind == "push"]) >= 3, "too few pushes after the kill"
    assert len([op for op in after if op.kind == "pull"]) >= 3, "too few pulls after the kill"
    assert not failures, [f"{op.kind}: {op.detail}" for op in failures[:5]]

    # No image is lost: every successful push and every seed pulls back bit-identically,
    # and the replicated copies are complete.
    checks = [(f"ha/seed{i}:v1", layout) for i, layout in enumerate(seeds)]
    checks += [(f"mirror/seed{i}:v1", layout) for i, layout in enumerate(seeds)]
    lost = clients.verify_all(tmp_path / "final", extra=checks)
    assert not lost, lost
