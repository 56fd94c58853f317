"""/api/v2.0/system/gc: history, one run, stop, log and schedule, in Harbor's shape."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from jobs import runner
from jobs.models import Execution, Status
from registry.manifests import OCI_MANIFEST
from registry.models import Blob
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db
# The sweep runs in worker threads with their own connections: tests that sweep commit
# (and then the eager Celery of the test settings runs the job on commit).
sweeping = pytest.mark.django_db(transaction=True)
GC = "/api/v2.0/system/gc"
MANUAL = {"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": False, "workers": 2}}


@pytest.fixture
def storage(tmp_path, settings, monkeypatch):
    settings.RUNTIME = dataclasses.replace(settings.RUNTIME, data_dir=tmp_path)
    settings.HARBOR = {**settings.HARBOR, "STORAGE": "filesystem", "STORAGE_ROOT": str(tmp_path)}
    monkeypatch.setenv("GC_TIME_WINDOW_HOURS", "2")
    return tmp_path / "docker/registry/v2"


def _garbage(base, data: bytes, content_type: str = "") -> str:
    """An unreferenced blob, on disk and in the database, older than the window."""
    hex_digest = hashlib.sha256(data).hexdigest()
    directory = base / "blobs/sha256" / hex_digest[:2] / hex_digest
    directory.mkdir(parents=True)
    (directory / "data").write_bytes(data)
    blob = Blob.objects.create(
        digest=f"sha256:{hex_digest}", size=len(data), content_type=content_type
    )
    Blob.objects.filter(pk=blob.pk).update(update_time=timezone.now() - dt.timedelta(hours=3))
    return blob.digest


def _start(api, body=MANUAL) -> Execution:
    response = api.post(f"{GC}/schedule", body, format="json")
    assert_matches("createGCSchedule", response, 201)
    return Execution.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))


def _run(execution: Execution) -> Execution:
    runner.run(execution.tasks.get().pk)  # what the Celery worker does
    execution.refresh_from_db()
    return execution


@sweeping
def test_manual_gc_reports_its_results_in_history_and_log(admin, client_for, storage):
    layer = _garbage(storage, b"layer" * 200)
    manifest = _garbage(storage, b'{"manifest": 1}', OCI_MANIFEST)
    api = client_for(admin)
    execution = _run(_start(api))
    assert execution.status == Status.SUCCESS, execution.status_message
    assert not Blob.objects.filter(digest__in=[layer, manifest]).exists()

    listing = api.get(GC)
    assert_matches("getGCHistory", listing, 200)
    item = listing.json()[0]
    assert (item["id"], item["job_name"], item["job_status"]) == (
        execution.pk,
        "GARBAGE_COLLECTION",
        "Success",
    )
    assert item["schedule"] == {"type": "Manual"} and item["job_kind"] == "MANUAL"
    parameters = json.loads(item["job_parameters"])
    assert parameters == {
        "delete_untagged": False,
        "dry_run": False,
        "workers": 2,
        "freed_space": 1000 + len(b'{"manifest": 1}'),
        "purged_blobs": 2,
        "purged_manifests": 1,
    }
    one = api.get(f"{GC}/{execution.pk}")
    assert_matches("getGC", one, 200)
    assert one.json() == item
    log = api.get(f"{GC}/{execution.pk}/log")
    assert log.status_code == 200 and log["Content-Type"].startswith("text/plain")
    assert b"2 blobs and 1 manifests are actually deleted" in log.content


@sweeping
def test_dry_run_reports_the_same_counts_and_deletes_nothing(admin, client_for, storage):
    _garbage(storage, b"layer" * 200)
    _garbage(storage, b'{"manifest": 2}', OCI_MANIFEST)
    api = client_for(admin)
    dry = _run(_start(api, {"schedule": {"type": "Manual"}, "parameters": {"dry_run": True}}))
    assert Blob.objects.count() == 2 and Blob.objects.filter(status="none").count() == 2
    real = _run(_start(api))
    keys = ("purged_blobs", "purged_manifests", "freed_space")
    assert (
        [dry.extra_attrs[k] for k in keys]
        == [real.extra_attrs[k] for k in keys]
        == [
            2,
            1,
            1000 + len(b'{"manifest": 2}'),
        ]
    )
    shown = json.loads(api.get(f"{GC}/{dry.pk}").json()["job_parameters"])
    assert shown["dry_run"] is True and shown["purged_blobs"] == 2
    assert b"eligible for deletion" in api.get(f"{GC}/{dry.pk}/log").content


def test_one_gc_at_a_time_and_stop(admin, client_for, storage):
    api = client_for(admin)
    first = _start(api)
    second = api.post(f"{GC}/schedule", MANUAL, format="json")
    assert_matches("createGCSchedule", second, 409)
    assert_harbor_error(second, 409, "CONFLICT")
    stopped = api.put(f"{GC}/{first.pk}")
    assert_matches("stopGC", stopped, 200)
    assert Execution.objects.get(pk=first.pk).status == Status.STOPPED
    assert_harbor_error(api.put(f"{GC}/{first.pk}"), 400)
    # Stopped: the next one may start.
    assert _run(_start(api)).status == Status.SUCCESS


def test_stopping_a_running_gc(admin, client_for, storage):
    for i in range(3):
        _garbage(storage, f"blob {i}".encode())
    execution = _start(client_for(admin))
    Execution.objects.filter(pk=execution.pk).update(stop_requested=True, status=Status.RUNNING)
    assert _run(execution).status == Status.STOPPED


@pytest.mark.parametrize(
    ("schedule", "cron"),
    [
        ({"type": "Hourly", "cron": "0 0 * * * *"}, ("0", "*")),
        ({"type": "Daily", "cron": "0 0 0 * * *"}, ("0", "0")),
        ({"type": "Weekly", "cron": "0 0 0 * * 0"}, ("0", "0")),
        ({"type": "Custom", "cron": "0 15 3 * * *"}, ("15", "3")),
    ],
)
def test_schedule_types(admin, client_for, schedule, cron):
    api = client_for(admin)
    empty = api.get(f"{GC}/schedule")
    assert_matches("getGCSchedule", empty, 200)
    assert empty.json()["schedule"]["type"] == "None"
    body = {"schedule": schedule, "parameters": {"delete_untagged": True, "workers": 3}}
    created = api.post(f"{GC}/schedule", body, format="json")
    assert_matches("createGCSchedule", created, 201)
    task = PeriodicTask.objects.get(name="harbor-schedule-GARBAGE_COLLECTION")
    assert (task.crontab.minute, task.crontab.hour) == cron
    shown = api.get(f"{GC}/schedule")
    assert_matches("getGCSchedule", shown, 200)
    assert shown.json()["schedule"] == schedule
    assert json.loads(shown.json()["job_parameters"]) == {
        "delete_untagged": True,
        "dry_run": False,
        "workers": 3,
    }
    updated = api.put(f"{GC}/schedule", {"schedule": {"type": "None"}}, format="json")
    assert_matches("updateGCSchedule", updated, 200)
    assert not PeriodicTask.objects.filter(name="harbor-schedule-GARBAGE_COLLECTION").exists()
    assert api.get(f"{GC}/schedule").json()["schedule"] == {"type": "None"}


def test_scheduled_run_uses_the_schedule_parameters(admin, client_for, storage):
    from jobs.tasks import run_scheduled

    api = client_for(admin)
    api.put(
        f"{GC}/schedule",
        {"schedule": {"type": "Daily"}, "parameters": {"dry_run": True, "workers": 4}},
        format="json",
    )
    run_scheduled("GARBAGE_COLLECTION")
    execution = Execution.objects.get(vendor_type="GARBAGE_COLLECTION")
    assert execution.trigger == "SCHEDULE"
    assert execution.parameters == {"delete_untagged": False, "dry_run": True, "workers": 4}
    item = api.get(f"{GC}/{execution.pk}").json()
    assert item["schedule"] == {"type": "Daily", "cron": "0 0 0 * * *"}


@pytest.mark.parametrize(
    "body",
    [
        {"schedule": {"type": "Manual"}, "parameters": {"workers": 0}},
        {"schedule": {"type": "Manual"}, "parameters": {"workers": 6}},
        {"schedule": {"type": "Manual"}, "parameters": {"workers": "2"}},
        {"schedule": {"type": "Manual"}, "parameters": {"dry_run": "yes"}},
        {"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": 1}},
        {"schedule": {"type": "Custom", "cron": "every day"}},
        {"schedule": {"type": "Custom"}},
        {"schedule": {"type": "Monthly"}},
    ],
)
def test_bad_requests(admin, client_for, body):
    response = client_for(admin).post(f"{GC}/schedule", body, format="json")
    assert_matches("createGCSchedule", response, 400)
    assert not Execution.objects.exists()


def test_only_system_admins(make_user, client_for, anon_client, admin):
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION")
    user = client_for(make_user())
    for method, path in [
        ("get", GC),
        ("get", f"{GC}/{execution.pk}"),
        ("get", f"{GC}/{execution.pk}/log"),
        ("put", f"{GC}/{execution.pk}"),
        ("get", f"{GC}/schedule"),
        ("post", f"{GC}/schedule"),
    ]:
        assert_harbor_error(getattr(user, method)(path, MANUAL, format="json"), 403)
        assert_harbor_error(getattr(anon_client, method)(path, MANUAL, format="json"), 401)


def test_unknown_job_is_404(admin, client_for):
    api = client_for(admin)
    other = Execution.objects.create(vendor_type="PURGE_AUDIT_LOG")
    assert_harbor_error(api.get(f"{GC}/{other.pk}"), 404)
    assert_harbor_error(api.get(f"{GC}/999999/log"), 404)
    assert_harbor_error(api.put(f"{GC}/999999"), 404)


def test_history_paginates_and_filters(admin, client_for):
    for status in (Status.SUCCESS, Status.ERROR, Status.SUCCESS):
        Execution.objects.create(vendor_type="GARBAGE_COLLECTION", status=status)
    api = client_for(admin)
    page = api.get(GC, {"page": 1, "page_size": 2})
    assert_matches("getGCHistory", page, 200)
    assert len(page.json()) == 2 and page["X-Total-Count"] == "3"
    failed = api.get(GC, {"q": "job_status=Error"})
    assert [item["job_status"] for item in failed.json()] == ["Error"]
