"""Component health checks for GET /api/v2.0/health."""

from __future__ import annotations

from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection

from harbor_py.celery import app as celery_app
from registry import upstream


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()


def _jobservice() -> None:
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no Celery worker answered")


CHECKS: dict[str, Callable[[], None]] = {
    "core": lambda: None,
    "database": _database,
    "redis": _redis,
    "registry": upstream.ping,
    "jobservice": _jobservice,
}


def component_health() -> list[dict[str, str]]:
    components = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            components.append({"name": name, "status": "unhealthy", "error": type(exc).__name__})
        else:
            components.append({"name": name, "status": "healthy"})
    return components
