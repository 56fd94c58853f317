"""Prometheus metrics (docs/operations.md, "Metrics").

Counted where they happen, in every process of a node (gunicorn workers, Celery worker
processes), through prometheus_client's multiprocess mode (harbor_py/ops/metrics_files.py);
the exporter (`manage.py metrics_exporter`, its own listener) adds them up and computes
the rest at scrape time: Celery queue depth from Redis, per-project artifact counts and
storage from the database in one grouped query, cached for STATS_CACHE_SECONDS.

HTTP requests are labelled by the Django route pattern that served them (never the raw
path: repository names and digests would make the series unbounded), method and status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
TOKEN_ROUTE = "service/token"
TOKEN_OUTCOMES = {200: "issued", 400: "bad_request", 401: "unauthorized", 429: "throttled"}
STATS_CACHE_KEY = "ops:metrics:project-stats"
STATS_CACHE_SECONDS = 30

HTTP_DURATION = Histogram(
    "harbor_http_request_duration_seconds",
    "Time to answer HTTP requests served by the web app, by route pattern, method, status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
TOKEN_DURATION = Histogram(
    "harbor_token_request_duration_seconds",
    "Registry token requests (/service/token), by outcome: issued, unauthorized, ...",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
TASKS = Counter(
    "harbor_celery_tasks", "Celery tasks finished, by task and outcome.", ["task", "outcome"]
)
TASK_DURATION = Histogram(
    "harbor_celery_task_duration_seconds", "Celery task run time.", ["task"], buckets=TASK_BUCKETS
)


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:  # answered before URL resolution (e.g. read-only refusals)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.route or match.view_name or "unmatched"


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        HTTP_DURATION.labels(route, request.method or "", str(response.status_code)).observe(
            elapsed
        )
        if route == TOKEN_ROUTE:
            outcome = TOKEN_OUTCOMES.get(response.status_code, "error")
            TOKEN_DURATION.labels(outcome).observe(elapsed)
        return response


def connect_celery_signals() -> None:
    """Count task outcomes in the worker processes (SUCCESS, FAILURE, RETRY, ...)."""
    from celery.signals import task_postrun, task_prerun

    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _prerun(task_id: str = "", **_: Any) -> None:
        started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _postrun(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
        name = getattr(task, "name", "unknown")
        TASKS.labels(name, (state or "unknown").lower()).inc()
        if (began := started.pop(task_id, None)) is not None:
            TASK_DURATION.labels(name).observe(time.perf_counter() - began)


# -- computed at scrape time (in the exporter) ----------------------------------------------

PROJECT_STATS_SQL = """
WITH project_blobs AS (
    SELECT DISTINCT r.project_id, ab.blob_id
    FROM artifact_blob ab
    JOIN artifact a ON a.id = ab.artifact_id
    JOIN repository r ON r.id = a.repository_id
), sizes AS (
    SELECT pb.project_id, SUM(b.size) AS bytes
    FROM project_blobs pb JOIN blob b ON b.id = pb.blob_id
    GROUP BY pb.project_id
), counts AS (
    SELECT r.project_id, COUNT(*) AS artifacts
    FROM artifact a JOIN repository r ON r.id = a.repository_id
    GROUP BY r.project_id
)
SELECT p.name, COALESCE(c.artifacts, 0), COALESCE(s.bytes, 0)
FROM project p
LEFT JOIN counts c ON c.project_id = p.id
LEFT JOIN sizes s ON s.project_id = p.id
ORDER BY p.name
"""


def project_stats() -> list[tuple[str, int, int]]:
    """(project, artifacts, bytes of the distinct blobs its artifacts reference), cached."""
    cached = cache.get(STATS_CACHE_KEY)
    if cached is not None:
        return cached
    with connection.cursor() as cursor:
        cursor.execute(PROJECT_STATS_SQL)
        rows = [(name, int(n), int(size)) for name, n, size in cursor.fetchall()]
    cache.set(STATS_CACHE_KEY, rows, STATS_CACHE_SECONDS)
    return rows


class ProjectCollector(Collector):
    def __init__(self, *, close_connection: bool = False) -> None:
        # The exporter answers each scrape on a new thread: its connection is closed after.
        self.close_connection = close_connection

    def collect(self) -> Iterator[GaugeMetricFamily]:
        artifacts = GaugeMetricFamily(
            "harbor_project_artifacts", "Artifacts in the project.", labels=["project"]
        )
        storage = GaugeMetricFamily(
            "harbor_project_storage_bytes",
            "Bytes of the distinct blobs the project's artifacts reference.",
            labels=["project"],
        )
        try:
            stats = project_stats()
        finally:
            if self.close_connection:
                connection.close()
        for name, count, size in stats:
            artifacts.add_metric([name], count)
            storage.add_metric([name], size)
        yield artifacts
        yield storage


def _queue_names() -> list[str]:
    from harbor_py.celery import app

    names = {app.conf.task_default_queue}
    names.update(queue.name for queue in app.conf.task_queues or ())
    return sorted(names)


class QueueCollector(Collector):
    """Messages waiting in each Celery queue (the Redis lists, one per priority step) and
    messages delivered to a worker but not yet acknowledged."""

    PRIORITY_SEPARATOR = "\x06\x16"
    PRIORITY_STEPS = (0, 3, 6, 9)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from harbor_py.core import redis_conn

        queues = _queue_names()
        pipe = redis_conn.client(timeout=3).pipeline(transaction=False)
        for queue in queues:
            for step in self.PRIORITY_STEPS:
                pipe.llen(queue if step == 0 else f"{queue}{self.PRIORITY_SEPARATOR}{step}")
        pipe.hlen("unacked")
        lengths = pipe.execute()
        waiting = GaugeMetricFamily(
            "harbor_celery_queue_length", "Celery messages waiting in the queue.", labels=["queue"]
        )
        per_queue = len(self.PRIORITY_STEPS)
        for index, queue in enumerate(queues):
            waiting.add_metric([queue], sum(lengths[index * per_queue : (index + 1) * per_queue]))
        yield waiting
        yield GaugeMetricFamily(
            "harbor_celery_unacked_tasks",
            "Celery messages delivered to a worker and not yet acknowledged.",
            value=lengths[-1],
        )
