"""What the webhook worker spends per delivery (#26), in-process: the outbox delivery
(`harbor_py.core.events.deliver_pending`, the task the worker runs) of a burst of
PUSH_ARTIFACT events to a project with five policies (the bench's shape: one receiver
each, Default and CloudEvents), the receivers in a process of their own. Printed per
round: CPU of this process and of its PostgreSQL backend per delivery, and SQL statements
and Redis commands per delivery; then a cProfile (CPU time) of one more round. Not
collected by `make test`; run it explicitly:

    .venv/bin/python -m pytest tests/integration/bench_webhook_delivery.py -s -q
"""

from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import subprocess
import sys
import time
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from harbor_py.core import events
from harbor_py.core.events import publish
from jobs.models import Execution
from registry.events import ArtifactPushed
from tests.backend_cpu import backend_cpu

pytestmark = pytest.mark.django_db(transaction=True)
POLICIES = 5
EVENTS = 40  # per round: one burst that one outbox delivery takes
ROUNDS = 5
DIGEST = "sha256:" + "d" * 64

_RECEIVERS = """
import sys
from tests.webhook_receiver import Receiver
made = [Receiver() for _ in range(int(sys.argv[1]))]
print(" ".join(r.url for r in made), flush=True)
sys.stdin.read()
"""


@pytest.fixture
def receiver_urls():
    process = subprocess.Popen(
        [sys.executable, "-c", _RECEIVERS, str(POLICIES)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    yield process.stdout.readline().split()
    process.stdin.close()
    process.wait(timeout=10)


def _publish(count: int, serial: list[int]) -> None:
    """`count` pushes' commits, their outbox rows left for the delivery below."""
    with mock.patch.object(events, "wake"):
        for _ in range(count):
            serial[0] += 1
            with transaction.atomic():
                publish(ArtifactPushed("hooked", "hooked/app", DIGEST, (f"v{serial[0]}",), "bench"))


def _deliver() -> None:
    events.deliver_pending()


def test_delivery_cost(make_user, make_project, client_for, redis_commands, receiver_urls):
    admin = client_for(make_user(sysadmin=True))
    make_project("hooked")
    for k, url in enumerate(receiver_urls):
        target = {
            "type": "http",
            "address": url,
            "payload_format": "CloudEvents" if k % 2 else "Default",
        }
        response = admin.post(
            "/api/v2.0/projects/hooked/webhook/policies",
            {
                "name": f"hook{k}",
                "event_types": ["PUSH_ARTIFACT"],
                "enabled": True,
                "targets": [target],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    serial = [0]
    _publish(5, serial)
    _deliver()  # warm: caches, the client, imports
    rows = []
    for _ in range(ROUNDS):
        _publish(EVENTS, serial)
        deliveries = EVENTS * POLICIES
        redis_commands.clear()
        backend = backend_cpu()
        started = time.process_time()
        with CaptureQueriesContext(connection) as queries:
            _deliver()
        cpu = (time.process_time() - started) * 1000 / deliveries
        backend = (backend_cpu() - backend) * 1000 / deliveries
        statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
        rows.append((cpu, backend))
        print(
            f"\n{deliveries} deliveries: {cpu:.2f} ms CPU, PostgreSQL {backend:.2f} ms, "
            f"{len(statements) / deliveries:.2f} statements, "
            f"{len(redis_commands) / deliveries:.2f} Redis commands per delivery"
        )
    print(
        f"medians of {ROUNDS}: {statistics.median(r[0] for r in rows):.2f} ms CPU per delivery, "
        f"PostgreSQL {statistics.median(r[1] for r in rows):.2f} ms"
    )
    _publish(EVENTS, serial)
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    _deliver()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats("/w3/(webhooks|jobs|harbor_py)/", 40)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())
    done = Execution.objects.filter(vendor_type="WEBHOOK")
    assert done.exclude(status="Success").count() == 0
    assert done.count() == (5 + (ROUNDS + 1) * EVENTS) * POLICIES
