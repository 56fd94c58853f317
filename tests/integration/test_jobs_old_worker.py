"""A worker started by code older than the per-type queues (issue #25) consumes only
Celery's default queue: a run sent to its job type's queue still runs on it, without a
restart (jobs.queues.announce). A real worker and a private redis-server; the worker and
the sender are processes of their own, as in a deployment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from jobs.models import Execution, Status, Task

pytestmark = pytest.mark.django_db(transaction=True)

# The worker of an older release: no celeryd_after_setup hook, so only the default queue.
OLD_WORKER = """
import django
django.setup()
from celery.signals import celeryd_after_setup
from jobs.queues import consume_on_start
celeryd_after_setup.disconnect(consume_on_start)
from harbor_py.celery import app
app.worker_main(["worker", "--pool=solo", "-n", "old@%h", "--without-mingle",
                 "--without-gossip", "--loglevel=INFO"])
"""
SEND = """
import sys, django
django.setup()
from jobs.runner import enqueue
enqueue(int(sys.argv[1]), "PURGE_AUDIT_LOG")
"""


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def private_redis(tmp_path: Path):
    socket = tmp_path / "redis.sock"
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            *("--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"unix://{socket}"
    server.terminate()
    server.wait(10)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a worker process shares the DB")
def test_a_worker_of_older_code_runs_a_run_sent_to_a_job_types_queue(tmp_path, private_redis):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "harbor_py.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": private_redis,
        "HARBOR_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-c", OLD_WORKER], env=env, stderr=log, stdout=log)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None and time.monotonic() < deadline, (
                tmp_path / "worker.log"
            ).read_text()[-3000:]
            time.sleep(0.2)
        execution = Execution.objects.create(
            vendor_type="PURGE_AUDIT_LOG",
            parameters={"audit_retention_hour": 1, "dry_run": True},
        )
        task = Task.objects.create(execution=execution)
        subprocess.run([sys.executable, "-c", SEND, str(task.pk)], env=env, check=True)
        deadline = time.monotonic() + 30
        while Task.objects.get(pk=task.pk).status != Status.SUCCESS:
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.2)
        assert "harbor.job.purge_audit_log" in (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
