"""Webhooks through a whole instance (#26): real skopeo pushes, pulls and deletes reach
HTTP receivers on loopback in each payload format (CloudEvents checked with the SDK), a
500-then-200 receiver and one that closes the connection are retried by the worker, a
slow receiver does not slow the push, and a worker killed in the middle of a delivery
does not lose the event: it arrives again with the same id."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, database_url, skopeo
from tests.webhook_receiver import Receiver, Receivers

ADMIN = ("admin", ADMIN_PASSWORD)


def _policy(api: httpx.Client, project: str, targets: list[dict], events: list[str]) -> int:
    response = api.post(
        f"/api/v2.0/projects/{project}/webhook/policies",
        json={"name": "hook", "targets": targets, "event_types": events, "enabled": True},
    )
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _types(receiver: Receiver, key=lambda r: r.json()["type"]) -> list[str]:
    return [key(r) for r in receiver.received]


@pytest.fixture
def receivers():
    pool = Receivers()
    yield pool
    pool.close()


def test_pushes_pulls_and_deletes_reach_every_receiver(stack: Instance, tmp_path: Path, receivers):
    project = f"wh{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    default, cloud, slack = receivers(), receivers(), receivers()
    flaky, closing = receivers(mode="flaky", failures=1), receivers(mode="close")
    with stack.client() as api:
        policy_id = _policy(
            api,
            project,
            [
                {"type": "http", "address": default.url, "payload_format": "Default"},
                {"type": "http", "address": cloud.url, "payload_format": "CloudEvents"},
                {"type": "slack", "address": slack.url},
                {"type": "http", "address": flaky.url},
                {"type": "http", "address": closing.url},
            ],
            ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"],
        )
    image = make_image(tmp_path / "img", layer_sizes=[700])
    reference = f"docker://{stack.host}/{project}/app:v1"
    skopeo("copy", image.ref, reference, creds=ADMIN)
    skopeo("inspect", reference, creds=ADMIN)
    default.wait_for(1, timeout=60)
    # pulls are published from the 10-second aggregation: wait for it before the delete
    _wait(lambda: "PULL_ARTIFACT" in _types(default), 60, "the pull's webhook")
    skopeo("delete", reference, creds=ADMIN)
    _wait(lambda: "DELETE_ARTIFACT" in _types(default), 60, "the delete's webhook")

    pushed = next(r.json() for r in default.received if r.json()["type"] == "PUSH_ARTIFACT")
    assert pushed["operator"] == "admin"
    assert pushed["event_data"]["resources"][0]["tag"] == "v1"
    assert pushed["event_data"]["resources"][0]["resource_url"] == f"{stack.host}/{project}/app:v1"
    assert pushed["event_data"]["repository"]["repo_full_name"] == f"{project}/app"
    digest = pushed["event_data"]["resources"][0]["digest"]
    pulled = next(r.json() for r in default.received if r.json()["type"] == "PULL_ARTIFACT")
    assert pulled["event_data"]["resources"][0]["digest"] == digest

    deliveries = len(default.received)  # a push may read its manifest back: pulls may be 2
    cloud.wait_for(deliveries, timeout=60)
    events = [from_http_event(HTTPMessage(headers=r.headers, body=r.body)) for r in cloud.received]
    assert {e.get_type() for e in events} == {
        "harbor.artifact.deleted",
        "harbor.artifact.pulled",
        "harbor.artifact.pushed",
    }
    assert all(e.get_source().endswith(f"/webhook/policies/{policy_id}") for e in events)
    # the same event has the same id in every format and target
    by_type = {r.json()["type"]: r.headers["X-Harbor-Event-Id"] for r in default.received}
    ce_ids = {e.get_type(): e.get_id() for e in events}
    assert ce_ids["harbor.artifact.pushed"] == by_type["PUSH_ARTIFACT"]

    slack.wait_for(deliveries, timeout=60)
    assert all("blocks" in r.json() for r in slack.received)
    flaky.wait_for(deliveries, timeout=60)
    assert flaky.attempts == deliveries + 1  # the first answered 500 and was sent again
    _wait(lambda: closing.attempts >= deliveries * 4, 120, "the closing receiver's retries")
    with stack.client() as api:
        runs = api.get(
            f"/api/v2.0/projects/{project}/webhook/policies/{policy_id}/executions",
            params={"page_size": 100},
        ).json()
    statuses = {r["status"] for r in runs}
    assert len(runs) == 5 * deliveries and statuses <= {"Success", "Error", "Running", "Pending"}
    assert "Error" in statuses or "Running" in statuses  # the closing receiver's


def test_a_slow_receiver_does_not_slow_the_push(stack: Instance, tmp_path: Path, receivers):
    project = f"ws{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    slow = receivers(mode="hold", delay=60)
    with stack.client() as api:
        _policy(api, project, [{"type": "http", "address": slow.url}], ["PUSH_ARTIFACT"])
    image = make_image(tmp_path / "img", layer_sizes=[300])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/a:v1", creds=ADMIN)
    assert slow.arrived.wait(60)
    started = time.monotonic()
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/a:v2", creds=ADMIN)
    # the first delivery is still held open; the second push finished regardless
    assert slow.received == [] and time.monotonic() - started < 30
    slow.release()
    slow.wait_for(2, timeout=60)


def test_a_worker_killed_mid_delivery_loses_no_event(stack: Instance, tmp_path: Path, receivers):
    project = f"wk{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    held = receivers(mode="hold", delay=90)
    with stack.client() as api:
        policy_id = _policy(
            api, project, [{"type": "http", "address": held.url}], ["PUSH_ARTIFACT"]
        )
    image = make_image(tmp_path / "img", layer_sizes=[400])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/k:v1", creds=ADMIN)
    assert held.arrived.wait(60), "the delivery never started"
    query = (
        "SELECT t.id, t.worker FROM task t JOIN execution e ON e.id = t.execution_id "
        "WHERE e.vendor_type = 'WEBHOOK' AND e.vendor_id = %s AND t.status = 'Running'"
    )
    with psycopg.connect(database_url(stack.db_name), autocommit=True) as db:
        task_id, worker = _wait(lambda: db.execute(query, [policy_id]).fetchone(), 30, "the task")
        pid = int(worker.rsplit(":", 1)[1])
        held.arrived.clear()
        os.kill(pid, signal.SIGKILL)  # the pool process sending the request
        assert held.arrived.wait(90), "the event was not sent again after the worker died"
        held.release()
        held.wait_for(1, timeout=60)
        assert held.attempts >= 2
        assert len({r.headers["X-Harbor-Event-Id"] for r in held.received}) == 1
        _, runs = _wait(
            lambda: db.execute(
                "SELECT status, run_count FROM task WHERE id = %s AND status = 'Success'",
                [task_id],
            ).fetchone(),
            60,
            "the task's success",
        )
    assert runs >= 2
