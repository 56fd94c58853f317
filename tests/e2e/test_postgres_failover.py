"""PostgreSQL that fails over: an instance whose DATABASE_URL names HAProxy in front of two
Patroni nodes (etcd, synchronous replication). The primary's node is killed (Patroni and
PostgreSQL, SIGKILL) while clients push and pull; Patroni promotes the synchronous standby
once the dead leader's key lapses, HAProxy follows its REST checks, and the app writes
again without a restart. Requests meanwhile fail with 503 and Retry-After (clients retry);
every push that was acknowledged is still there and pulls back bit for bit."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from tests.e2e.load import Clients
from tests.imagegen import make_image, random_layer
from tests.patroni import running_patroni
from tests.stack import ADMIN_PASSWORD, running_instance, skopeo

pytestmark = pytest.mark.e2e
ADMIN = ("admin", ADMIN_PASSWORD)


def test_a_postgresql_primary_failover_loses_no_acknowledged_push(tmp_path: Path) -> None:
    with running_patroni() as patroni:
        url = patroni.create_database("harbor_failover")
        with running_instance(
            tmp_path / "instance", database=None, extra_env={"DATABASE_URL": url}
        ) as instance:
            instance.create_project("ha")
            seed = make_image(tmp_path / "seed", layers=[random_layer(64 * 1024)])
            skopeo("copy", seed.ref, f"docker://{instance.host}/ha/seed:v1", creds=ADMIN)

            clients = Clients(instance.host, tmp_path / "clients")
            with clients.running(pushers=1, pullers=1):
                time.sleep(6)
                old = patroni.primary()
                assert old is not None
                standby = next(n for n in patroni.nodes if n is not old)
                assert standby.is_sync_standby()
                patroni.kill(old)
                killed_at = time.monotonic()
                promoted, _ = patroni.wait_promoted(old)
                promoted_at = time.monotonic()
                first_write = clients.first_push_acknowledged(promoted_at, timeout=60)
                assert first_write is not None, "no push acknowledged after the promotion"
                time.sleep(8)

            during = [op for op in clients.operations if op.ended >= killed_at]
            during = [op for op in during if op.started < promoted_at]
            failed = [op for op in clients.operations if not op.ok]
            after = [op for op in clients.operations if op.started > promoted_at + 5]
            print(
                f"\nPostgreSQL failover: {old.name} killed, {promoted.name} promoted in"
                f" {promoted_at - killed_at:.1f}s, first acknowledged push"
                f" {first_write - killed_at:.1f}s after the kill;"
                f" {len(clients.operations)} operations, {len(during)} attempted while no"
                f" primary, {len(failed)} failed"
                f" ({[op.detail[-120:] for op in failed[:2]]})"
            )
            assert promoted is standby  # only the synchronous standby may be promoted
            # What failed was told to retry (503), never that the server broke (500).
            broken = [op.detail for op in failed if "500 (Internal Server Error)" in op.detail]
            assert not broken, broken[:3]
            assert len(after) >= 2, "too few operations after the promotion"
            assert not [op for op in after if not op.ok], [op.detail for op in after][:3]

            # Nothing acknowledged is lost: every successful push is in the database (on
            # the promoted node) and pulls back bit for bit.
            assert not clients.verify_all(tmp_path / "final", extra=[("ha/seed:v1", seed)])
            with psycopg.connect(url) as conn:
                tags = {
                    f"{repository}:{tag}"
                    for repository, tag in conn.execute(
                        "SELECT r.name, t.name FROM tag t JOIN repository r"
                        " ON r.id = t.repository_id"
                    ).fetchall()
                }
            assert {reference for reference, _ in clients.pushed} <= tags
