"""Prometheus metrics: HTTP latency by route pattern (not by path), token outcomes, Celery
task outcomes, queue depth from the real Redis, per-project counts in one cached query,
and counters of several processes added up by the exporter's registry (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from celery import shared_task
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from harbor_py.ops import metrics
from projects.models import Project
from registry.models import ArtifactBlob, Blob
from tests.integration.conftest import PASSWORD, basic
from tests.integration.registry_data import image
from tests.stack import REPO_ROOT

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_http_latency_is_labelled_by_route_pattern(make_project):
    make_project("alpha", public=True)
    make_project("beta", public=True)
    route = resolve("/api/v2.0/projects/alpha").route
    labels = {"route": route, "method": "GET", "status": "200"}
    before = sample("harbor_http_request_duration_seconds_count", **labels)
    client = Client()
    assert client.get("/api/v2.0/projects/alpha").status_code == 200
    assert client.get("/api/v2.0/projects/beta").status_code == 200
    assert sample("harbor_http_request_duration_seconds_count", **labels) == before + 2
    assert "<" in route  # the pattern, e.g. api/v2.0/projects/<str:...>
    exposition = generate_latest(REGISTRY).decode()
    assert 'route="api/v2.0/projects/alpha"' not in exposition
    assert "/v2/alpha" not in exposition


def test_unresolvable_paths_share_one_label():
    before = sample(
        "harbor_http_request_duration_seconds_count", route="unmatched", method="GET", status="404"
    )
    Client().get("/no/such/page/x1")
    Client().get("/no/such/page/x2")
    after = sample(
        "harbor_http_request_duration_seconds_count", route="unmatched", method="GET", status="404"
    )
    assert after in (before + 2, before)  # the UI may answer its own 404 under its route
    exposition = generate_latest(REGISTRY).decode()
    assert "x1" not in exposition and "x2" not in exposition


def test_token_outcomes(make_user):
    make_user("tok")
    count = "harbor_token_request_duration_seconds_count"
    issued, refused = sample(count, outcome="issued"), sample(count, outcome="unauthorized")
    client = Client()
    ok = client.get(
        "/service/token", {"service": "harbor-registry"}, HTTP_AUTHORIZATION=basic("tok", PASSWORD)
    )
    bad = client.get(
        "/service/token", {"service": "harbor-registry"}, HTTP_AUTHORIZATION=basic("tok", "wrong")
    )
    assert (ok.status_code, bad.status_code) == (200, 401)
    assert sample(count, outcome="issued") == issued + 1
    assert sample(count, outcome="unauthorized") == refused + 1


@shared_task(name="tests.ops.ok")
def _ok() -> int:
    return 1


@shared_task(name="tests.ops.boom")
def _boom() -> None:
    raise RuntimeError("boom")


def test_task_outcomes_are_counted_by_the_signals():
    ok = sample("harbor_celery_tasks_total", task="tests.ops.ok", outcome="success")
    failed = sample("harbor_celery_tasks_total", task="tests.ops.boom", outcome="failure")
    _ok.apply()
    _ok.apply()
    _boom.apply()
    assert sample("harbor_celery_tasks_total", task="tests.ops.ok", outcome="success") == ok + 2
    assert (
        sample("harbor_celery_tasks_total", task="tests.ops.boom", outcome="failure") == failed + 1
    )
    assert sample("harbor_celery_task_duration_seconds_count", task="tests.ops.ok") >= 2


def test_project_stats_in_one_cached_query(make_project):
    alpha, beta = make_project("alpha"), make_project("beta")
    make_project("empty")
    first = image(alpha, "app", "v1", layer_sizes=(1000, 2000))
    second = image(alpha, "app", "v2", layer_sizes=(3000,))
    image(beta, "web", "v1", layer_sizes=(500,))
    # A blob that two artifacts of the project reference counts once.
    shared = Blob.objects.filter(artifactblob__artifact=first, size=2000).get()
    ArtifactBlob.objects.create(artifact=second, blob=shared)
    blobs = {
        (blob.pk, blob.size)
        for blob in Blob.objects.filter(artifactblob__artifact__repository__project=alpha)
    }
    expected_alpha = sum(size for _, size in blobs)
    with CaptureQueriesContext(connection) as queries:
        stats = metrics.project_stats()
    assert len(queries) == 1
    by_name = {name: (count, size) for name, count, size in stats}
    assert by_name["alpha"] == (2, expected_alpha)
    assert by_name["beta"][0] == 1 and by_name["empty"] == (0, 0)
    with CaptureQueriesContext(connection) as queries:
        assert metrics.project_stats() == stats  # cached
    assert len(queries) == 0
    registry = CollectorRegistry()
    registry.register(metrics.ProjectCollector())
    assert registry.get_sample_value("harbor_project_artifacts", {"project": "alpha"}) == 2
    assert registry.get_sample_value("harbor_project_storage_bytes", {"project": "empty"}) == 0
    assert Project.objects.count() == 3


def test_queue_depth_from_redis():
    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = "celery"
    client.delete(queue, f"{queue}\x06\x163")
    try:
        client.rpush(queue, "m1", "m2")
        client.rpush(f"{queue}\x06\x163", "m3")  # a priority step of the same queue
        registry = CollectorRegistry()
        registry.register(metrics.QueueCollector())
        assert registry.get_sample_value("harbor_celery_queue_length", {"queue": "celery"}) == 3
        assert registry.get_sample_value("harbor_celery_unacked_tasks") is not None
    finally:
        client.delete(queue, f"{queue}\x06\x163")


INCREMENT = """
import django
django.setup()
from harbor_py.ops import metrics
metrics.TASKS.labels("t", "success").inc()
metrics.HTTP_DURATION.labels("r", "GET", "200").observe(0.02)
"""


def test_counts_of_several_processes_add_up(tmp_path: Path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "harbor_py.settings_test",
    }
    for _ in range(2):  # two processes, like two gunicorn workers or a worker and a web
        subprocess.run([sys.executable, "-c", INCREMENT], env=env, cwd=REPO_ROOT, check=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert (
        registry.get_sample_value("harbor_celery_tasks_total", {"task": "t", "outcome": "success"})
        == 2
    )
    assert (
        registry.get_sample_value(
            "harbor_http_request_duration_seconds_count",
            {"route": "r", "method": "GET", "status": "200"},
        )
        == 2
    )
