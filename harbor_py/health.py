"""Component health checks for GET /api/v2.0/health (Harbor's OverallHealthStatus).

Every check runs in its own thread and the answer waits at most CHECK_SECONDS for all of
them together: a dead Redis, a hung database or an unreachable registry makes its component
unhealthy ("timed out") instead of hanging the endpoint (a load balancer's probe). The
checks also bound their own sockets, so abandoned threads end soon after.

Components: core, database, redis, registry (distribution answers), storage (the registry
storage is writable: a file created and removed in the filesystem root, an object put and
deleted in the S3 bucket, outside distribution's tree), jobservice (at least one Celery
worker answered a ping), scanner (the built-in scanner answers its metadata; not when
HARBOR_BUILTIN_SCANNER=false), then one
`worker:<node name>` per worker that answered.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import cast

import httpx
from django.conf import settings
from django.db import connection

from harbor_py.celery import app as celery_app
from harbor_py.core import env, redis_conn
from registry import upstream

CHECK_SECONDS = float(env.get("HARBOR_HEALTH_TIMEOUT_SECONDS", "3"))
WORKER_PING_SECONDS = 1.0
HEALTH_OBJECT_DIR = "harbor-health"  # beside docker/ in the storage root, never inside it


def _database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's connection: the thread is not reused


def _redis() -> None:
    redis_conn.client(timeout=CHECK_SECONDS, wait_for_failover=False).ping()


def _registry() -> None:
    response = upstream.client().get("/v2/", timeout=CHECK_SECONDS)
    if response.status_code not in (200, 401):  # 401 without a token is a healthy answer
        raise RuntimeError(f"registry answered {response.status_code}")


def _filesystem_storage(root: Path) -> None:
    if not root.is_dir():
        raise RuntimeError(f"storage root {root} is not a directory")
    with tempfile.NamedTemporaryFile(dir=root, prefix=".harbor-health-") as probe:
        probe.write(b"ok")
        probe.flush()


def _s3_storage() -> None:
    from harbor_py.s3 import client_from_settings

    s3 = settings.HARBOR["S3"]
    client = client_from_settings(timeout=CHECK_SECONDS, attempts=1)
    root = s3["ROOT"].strip("/")
    name = f"{socket.gethostname()}-{uuid.uuid4().hex}"
    key = f"{root}/{HEALTH_OBJECT_DIR}/{name}" if root else f"{HEALTH_OBJECT_DIR}/{name}"
    client.put_object(Bucket=s3["BUCKET"], Key=key, Body=b"ok")
    client.delete_object(Bucket=s3["BUCKET"], Key=key)


def _storage() -> None:
    if settings.HARBOR.get("STORAGE") == "s3":
        _s3_storage()
    else:
        _filesystem_storage(
            Path(settings.HARBOR.get("STORAGE_ROOT") or settings.RUNTIME.storage_dir)
        )


def _scanner() -> None:
    """The built-in scanner answers its metadata (scanner/adapter.py)."""
    response = httpx.get(
        settings.HARBOR["BUILTIN_SCANNER_URL"].rstrip("/") + "/api/v1/metadata",
        headers={"Authorization": f"Bearer {settings.HARBOR['BUILTIN_SCANNER_TOKEN']}"},
        timeout=CHECK_SECONDS,
    )
    if response.status_code != 200:
        raise RuntimeError(f"scanner answered {response.status_code}")


def answering_workers() -> list[str]:
    replies = celery_app.control.ping(timeout=WORKER_PING_SECONDS)
    return sorted(name for reply in replies or [] for name in reply)


CHECKS: dict[str, Callable[[], object]] = {
    "core": lambda: None,
    "database": _database,
    "redis": _redis,
    "registry": _registry,
    "storage": _storage,
    "jobservice": answering_workers,
}


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def checks() -> dict[str, Callable[[], object]]:
    """CHECKS, and the built-in scanner's unless the deployment turned it off."""
    if settings.HARBOR.get("BUILTIN_SCANNER", True):
        return {**CHECKS, "scanner": _scanner}
    return CHECKS


def component_health() -> list[dict[str, str]]:
    selected = checks()
    executor = ThreadPoolExecutor(max_workers=len(selected), thread_name_prefix="health")
    futures = {name: executor.submit(check) for name, check in selected.items()}
    wait(futures.values(), timeout=CHECK_SECONDS + WORKER_PING_SECONDS)
    executor.shutdown(wait=False, cancel_futures=True)  # a hung check is left behind
    components: list[dict[str, str]] = []
    workers: list[str] = []
    for name, future in futures.items():
        if not future.done():
            error = f"no answer within {CHECK_SECONDS + WORKER_PING_SECONDS:g}s"
            components.append({"name": name, "status": "unhealthy", "error": error})
        elif (exc := future.exception()) is not None:
            components.append({"name": name, "status": "unhealthy", "error": _error(exc)})
        elif name == "jobservice" and not future.result():
            error = "no Celery worker answered"
            components.append({"name": name, "status": "unhealthy", "error": error})
        else:
            components.append({"name": name, "status": "healthy"})
            if name == "jobservice":
                workers = cast("list[str]", future.result())  # answering_workers()
    components.extend({"name": f"worker:{worker}", "status": "healthy"} for worker in workers)
    return components
