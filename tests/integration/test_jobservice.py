"""The job service dashboard and schedules API (issue #25) with the real broker: pausing a
job type parks its runs (they stay Pending, counted in its queue) and resuming runs them;
stop drops what waits; jobs stop and show their log; /schedules lists beat's schedules.
Celery runs tasks inline here (no worker): the e2e test runs the same against a real
worker (tests/e2e/test_retention_jobs.py)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from harbor_py.core.actor import Actor
from jobs import queues
from jobs import services as job_services
from jobs.models import Execution, Status, Task
from retention import services as retention_services
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db
PURGE = "/api/v2.0/system/purgeaudit/schedule"
MANUAL = {
    "schedule": {"type": "Manual"},
    "parameters": {"audit_retention_hour": 1, "dry_run": True},
}
QUEUE = "/api/v2.0/jobservice/queues/PURGE_AUDIT_LOG"


@pytest.fixture(autouse=True)
def own_pause_flags(monkeypatch):
    """The pause flags live in Redis, which other test processes share."""
    monkeypatch.setattr(queues, "PAUSED_KEY", f"pytest-{uuid.uuid4().hex}:jobs:paused")
    yield
    queues._redis().delete(queues.PAUSED_KEY)


@pytest.fixture
def api(admin, client_for):
    return client_for(admin)


def _start(api, capture) -> Execution:
    with capture(execute=True):  # the enqueue after commit, run inline
        response = api.post(PURGE, MANUAL, format="json")
    assert response.status_code == 201, response.content
    return Execution.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))


def _queue(api, job_type: str) -> dict:
    listed = api.get("/api/v2.0/jobservice/queues")
    assert_matches("listJobQueues", listed, 200)
    return {q["job_type"]: q for q in listed.json()}[job_type]


def test_a_paused_job_type_holds_its_runs_and_resume_runs_them(
    api, django_capture_on_commit_callbacks
):
    assert api.put(QUEUE, {"action": "pause"}, format="json").status_code == 200
    execution = _start(api, django_capture_on_commit_callbacks)
    execution.refresh_from_db()
    assert execution.status == Status.PENDING  # the worker (inline here) did not start it
    assert execution.tasks.get().extra_attrs.get("parked") is True
    queue = _queue(api, "PURGE_AUDIT_LOG")
    assert (queue["count"], queue["paused"]) == (1, True)
    assert _queue(api, "GARBAGE_COLLECTION")["paused"] is False
    assert api.get("/api/v2.0/schedules/PURGE_AUDIT_LOG/paused").json() == {"paused": True}

    with django_capture_on_commit_callbacks(execute=True):
        assert api.put(QUEUE, {"action": "resume"}, format="json").status_code == 200
    execution.refresh_from_db()
    assert execution.status == Status.SUCCESS, execution.status_message
    assert (_queue(api, "PURGE_AUDIT_LOG")["count"], _queue(api, "PURGE_AUDIT_LOG")["paused"]) == (
        0,
        False,
    )


def test_stop_drops_the_waiting_runs_and_all_pauses_every_type(
    api, django_capture_on_commit_callbacks
):
    assert (
        api.put("/api/v2.0/jobservice/queues/all", {"action": "pause"}, format="json").status_code
        == 200
    )
    assert api.get("/api/v2.0/schedules/all/paused").json() == {"paused": True}
    execution = _start(api, django_capture_on_commit_callbacks)
    assert api.put(QUEUE, {"action": "stop"}, format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v2.0/jobservice/queues/all", {"action": "resume"}, format="json")
    execution.refresh_from_db()
    assert execution.status == Status.STOPPED
    assert api.get("/api/v2.0/schedules/all/paused").json() == {"paused": False}
    assert_harbor_error(api.put(QUEUE, {"action": "explode"}, format="json"), 400, "BAD_REQUEST")
    missing = api.put("/api/v2.0/jobservice/queues/NOPE", {"action": "pause"}, format="json")
    assert_harbor_error(missing, 404, "NOT_FOUND")


def test_a_job_stops_and_shows_its_log(api):
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", status=Status.RUNNING)
    task = Task.objects.create(execution=execution, status=Status.RUNNING, log="marking\n")
    assert api.put(f"/api/v2.0/jobservice/jobs/{task.pk}").status_code == 200
    execution.refresh_from_db()
    assert execution.stop_requested
    log = api.get(f"/api/v2.0/jobservice/jobs/{task.pk}/log")
    assert (log.status_code, log.content) == (200, b"marking\n")
    assert_harbor_error(api.get("/api/v2.0/jobservice/jobs/x1/log"), 404, "NOT_FOUND")


def test_job_ids_and_job_types_in_harbors_forms(api):
    """Harbor's stopRunningJob takes `all` (any case) for every running job; its
    actionPendingJobs reads the job type and the action in any case."""
    running = [
        Execution.objects.create(vendor_type=vendor_type, status=Status.RUNNING)
        for vendor_type in ("GARBAGE_COLLECTION", "RETENTION")
    ]
    for execution in running:
        Task.objects.create(execution=execution, status=Status.RUNNING)
    done = Execution.objects.create(vendor_type="PURGE_AUDIT_LOG", status=Status.SUCCESS)
    Task.objects.create(execution=done, status=Status.SUCCESS)
    assert api.put("/api/v2.0/jobservice/jobs/ALL").status_code == 200
    assert [e.stop_requested for e in Execution.objects.order_by("pk")] == [True, True, False]
    assert api.put("/api/v2.0/jobservice/jobs/all").status_code == 200  # nothing left: no-op
    assert_harbor_error(api.put("/api/v2.0/jobservice/jobs/alll"), 404, "NOT_FOUND")
    paused = api.put(
        "/api/v2.0/jobservice/queues/purge_audit_log", {"action": "PAUSE"}, format="json"
    )
    assert paused.status_code == 200
    assert _queue(api, "PURGE_AUDIT_LOG")["paused"] is True
    resumed = api.put(
        "/api/v2.0/jobservice/queues/purge_audit_log", {"action": "Resume"}, format="json"
    )
    assert resumed.status_code == 200
    assert _queue(api, "PURGE_AUDIT_LOG")["paused"] is False


def test_schedules_lists_beats_schedules_by_job_type(api, make_project):
    admin = Actor(username="admin")
    job_services.set_schedule(
        vendor_type="GARBAGE_COLLECTION", type_="Daily", cron="", parameters={}, actor=admin
    )
    policy = retention_services.create_policy(
        project=make_project("sched"),
        data={"rules": [], "trigger": {"settings": {"cron": "0 30 2 * * 1"}}},
        actor=admin,
    )
    listed = api.get("/api/v2.0/schedules")
    assert_matches("listSchedules", listed, 200)
    found = {(s["vendor_type"], s["vendor_id"], s["cron"]) for s in listed.json()}
    assert found == {
        ("GARBAGE_COLLECTION", 0, "0 0 0 * * *"),
        ("RETENTION", policy.pk, "0 30 2 * * 1"),
    }


def test_pools_and_workers_answer_what_celery_inspect_knows(api, monkeypatch):
    stats = {
        "harbor-a@host1": {
            "pid": 42,
            "uptime": 30,
            "pool": {"max-concurrency": 2, "processes": [100, 101]},
        }
    }
    execution = Execution.objects.create(vendor_type="RETENTION", status=Status.RUNNING)
    task = Task.objects.create(execution=execution, status=Status.RUNNING)
    active = {
        "harbor-a@host1": [
            {
                "id": "c1",
                "name": "jobs.tasks.run_task",
                "args": [task.pk],
                "worker_pid": 101,
                "time_start": 1_700_000_000.0,
            }
        ]
    }
    inspect = SimpleNamespace(stats=lambda: stats, active=lambda: active)
    monkeypatch.setattr(queues, "_inspect", lambda: inspect)
    pools = api.get("/api/v2.0/jobservice/pools")
    assert_matches("getWorkerPools", pools, 200)
    assert [(p["worker_pool_id"], p["pid"], p["concurrency"], p["host"]) for p in pools.json()] == [
        ("harbor-a@host1", 42, 2, "host1")
    ]
    workers = api.get("/api/v2.0/jobservice/pools/all/workers")
    assert_matches("getWorkers", workers, 200)
    assert [(w["id"], w["job_name"], w["job_id"]) for w in workers.json()] == [
        ("harbor-a@host1:100", "", ""),
        ("harbor-a@host1:101", "RETENTION", str(task.pk)),
    ]
    assert_harbor_error(api.get("/api/v2.0/jobservice/pools/nope/workers"), 404, "NOT_FOUND")


def test_a_starting_worker_consumes_the_queues_of_the_types_not_paused():
    queues.pause("GARBAGE_COLLECTION")
    added: list[str] = []
    instance = SimpleNamespace(
        app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(select_add=added.append)))
    )
    queues.consume_on_start(instance=instance)
    assert "harbor.job.retention" in added and "harbor.job.purge_audit_log" in added
    assert "harbor.job.garbage_collection" not in added


def test_only_sysadmins_see_the_job_service(client_for, make_user, anon_client):
    user = client_for(make_user())
    assert_harbor_error(user.get("/api/v2.0/jobservice/queues"), 403)
    assert_harbor_error(user.put(QUEUE, {"action": "pause"}, format="json"), 403)
    assert_harbor_error(anon_client.get("/api/v2.0/schedules"), 401)
