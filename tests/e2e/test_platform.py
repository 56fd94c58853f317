"""The platform as `make up` starts it: health, system info, and two instances side by side
(the second on the embedded default: SQLite and a private redis)."""

from __future__ import annotations

import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from tests.imagegen import layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, PG_DSN, Instance, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def test_health_reports_every_component(stack: Instance) -> None:
    with stack.client(None) as api:
        body = api.get("/api/v2.0/health").json()
    assert body["status"] == "healthy"
    names = {c["name"]: c["status"] for c in body["components"]}
    assert names == {
        "core": "healthy",
        "database": "healthy",
        "redis": "healthy",
        "registry": "healthy",
        "storage": "healthy",
        "jobservice": "healthy",
        "scanner": "healthy",
        # The instance's one Celery worker, by its node name (deploy/supervisord.conf).
        f"worker:harbor-{stack.port}@{socket.gethostname()}": "healthy",
    }


def test_systeminfo_hides_details_from_anonymous(stack: Instance) -> None:
    with stack.client(None) as anonymous, stack.client() as admin:
        public = anonymous.get("/api/v2.0/systeminfo").json()
        full = admin.get("/api/v2.0/systeminfo").json()
    assert "external_url" not in public
    assert full["external_url"] == stack.url
    assert full["registry_url"] == stack.host


def test_second_instance_on_sqlite_runs_beside_the_first(stack: Instance, tmp_path: Path) -> None:
    with running_instance(tmp_path / "second", database=None) as second:
        assert second.port != stack.port
        assert (second.data_dir / "harbor.db").exists()
        project = f"side{uuid.uuid4().hex[:6]}"
        second.create_project(project)
        image = make_image(tmp_path / "img", layer_sizes=[4096])
        skopeo("copy", image.ref, f"docker://{second.host}/{project}/app:v1", creds=ADMIN)
        skopeo(
            "copy",
            f"docker://{second.host}/{project}/app:v1",
            f"oci:{tmp_path / 'out'}:v1",
            creds=ADMIN,
        )
        assert layout_blobs(tmp_path / "out") == layout_blobs(image.path)
        with stack.client() as first_api:
            assert first_api.get(f"/api/v2.0/projects/{project}").status_code == 404
        # `make down` (the suite's instances stop without it: tests/stack.py)
        down = second.manage("platform", "down")
        assert "harbor-py stopped" in down.stdout and second.registry_process() is None
    with stack.client(None) as api:
        assert api.get("/api/v2.0/health").json()["status"] == "healthy"


def test_distribution_runs_with_the_go_gc_settings(stack: Instance) -> None:
    """What supervisord really hands distribution (deploy/supervisord.conf)."""
    proc = stack.registry_process()
    assert proc is not None
    environ = (proc / "environ").read_bytes().split(b"\0")
    environment = dict(e.decode().split("=", 1) for e in environ if b"=" in e)
    assert environment["GOGC"] == "400"
    assert environment["GOMEMLIMIT"] == "1GiB"


def _get_projects_concurrently(instance: Instance, count: int) -> list[int]:
    def get(_: int) -> int:
        with instance.client() as api:  # a new connection each: spread over gunicorn's threads
            return api.get("/api/v2.0/projects").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(get, range(count)))


def test_no_request_fails_after_postgresql_ended_every_session(stack: Instance) -> None:
    """A PostgreSQL restart or failover ends the sessions that gunicorn's threads keep
    between requests; the next requests get new ones instead of a 500
    (harbor_py/core/postgres/base.py). On the shared instance: what it asserts is that
    the instance goes on as if nothing happened."""
    assert set(_get_projects_concurrently(stack, 64)) == {200}
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [stack.db_name],
        ).fetchone()
    assert ended is not None and ended[0] >= 2  # gunicorn's threads, Celery's processes
    time.sleep(0.5)  # the sessions' goodbyes reach their sockets

    assert set(_get_projects_concurrently(stack, 64)) == {200}
    with stack.client(None) as api:
        assert api.get("/api/v2.0/health").json()["status"] == "healthy"
