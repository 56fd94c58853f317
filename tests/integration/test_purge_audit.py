"""The audit purge job and the /system/purgeaudit API (shared system-job shape)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from jobs import runner
from jobs.models import Execution, Status
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db


def _entry(hours_old: float, operation: str = "pull", resource_type: str = "artifact") -> AuditLog:
    return AuditLog.objects.create(
        username="u",
        resource="p/r:t",
        resource_type=resource_type,
        operation=operation,
        op_time=timezone.now() - dt.timedelta(hours=hours_old),
    )


def _run_manual(api, parameters) -> Execution:
    response = api.post(
        "/api/v2.0/system/purgeaudit/schedule",
        {"schedule": {"type": "Manual"}, "parameters": parameters},
        format="json",
    )
    assert response.status_code == 201, response.content
    execution = Execution.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))
    runner.run(execution.tasks.get().pk)  # what the Celery worker does
    execution.refresh_from_db()
    return execution


def test_purge_deletes_only_old_entries_of_the_chosen_types(admin, client_for):
    old_pull, old_create, fresh = _entry(48), _entry(48, "create"), _entry(1)
    api = client_for(admin)
    execution = _run_manual(
        api, {"audit_retention_hour": 24, "include_event_types": "pull_artifact"}
    )
    assert execution.status == Status.SUCCESS
    remaining = set(AuditLog.objects.values_list("pk", flat=True))
    assert old_pull.pk not in remaining
    assert {old_create.pk, fresh.pk} <= remaining
    assert execution.extra_attrs == {"purged": 1}

    listing = api.get("/api/v2.0/system/purgeaudit")
    assert_matches("getPurgeHistory", listing, 200)
    assert listing.json()[0]["job_status"] == "Success"
    one = api.get(f"/api/v2.0/system/purgeaudit/{execution.pk}")
    assert_matches("getPurgeJob", one, 200)
    log = api.get(f"/api/v2.0/system/purgeaudit/{execution.pk}/log")
    assert log.status_code == 200 and b"1 entries deleted" in log.content


def test_dry_run_deletes_nothing(admin, client_for):
    old = _entry(100)
    before = set(AuditLog.objects.values_list("pk", flat=True))
    execution = _run_manual(client_for(admin), {"audit_retention_hour": 1, "dry_run": True})
    assert execution.status == Status.SUCCESS
    # nothing deleted (the run itself added its login and create_purge_audit_job entries)
    assert before <= set(AuditLog.objects.values_list("pk", flat=True))
    assert AuditLog.objects.filter(pk=old.pk).exists()
    assert execution.extra_attrs["would_purge"] >= 1


def test_one_purge_at_a_time_and_stop(admin, client_for):
    api = client_for(admin)
    first = api.post(
        "/api/v2.0/system/purgeaudit/schedule",
        {"schedule": {"type": "Manual"}, "parameters": {}},
        format="json",
    )
    assert first.status_code == 201
    second = api.post(
        "/api/v2.0/system/purgeaudit/schedule",
        {"schedule": {"type": "Manual"}, "parameters": {}},
        format="json",
    )
    assert_harbor_error(second, 409, "CONFLICT")
    job_id = int(first["Location"].rsplit("/", 1)[1])
    stopped = api.put(f"/api/v2.0/system/purgeaudit/{job_id}")
    assert stopped.status_code == 200
    assert Execution.objects.get(pk=job_id).status == Status.STOPPED
    assert_harbor_error(api.put(f"/api/v2.0/system/purgeaudit/{job_id}"), 400)


def test_schedule_lives_in_celery_beat(admin, client_for):
    api = client_for(admin)
    created = api.post(
        "/api/v2.0/system/purgeaudit/schedule",
        {
            "schedule": {"type": "Custom", "cron": "0 30 2 * * *"},
            "parameters": {"audit_retention_hour": 72},
        },
        format="json",
    )
    assert created.status_code == 201
    task = PeriodicTask.objects.get(name="harbor-schedule-PURGE_AUDIT_LOG")
    assert (task.crontab.minute, task.crontab.hour) == ("30", "2")
    shown = api.get("/api/v2.0/system/purgeaudit/schedule")
    assert_matches("getPurgeSchedule", shown, 200)
    assert shown.json()["schedule"] == {"type": "Custom", "cron": "0 30 2 * * *"}
    api.put("/api/v2.0/system/purgeaudit/schedule", {"schedule": {"type": "None"}}, format="json")
    assert not PeriodicTask.objects.filter(name="harbor-schedule-PURGE_AUDIT_LOG").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"schedule": {"type": "Custom", "cron": "not a cron"}},
        {"schedule": {"type": "Custom", "cron": "0 99 * * * *"}},
        {"schedule": {"type": "Sometimes"}},
        {"schedule": {"type": "Manual"}, "parameters": {"audit_retention_hour": -1}},
        {"schedule": {"type": "Manual"}, "parameters": {"dry_run": "yes"}},
        {"parameters": {}},
    ],
)
def test_bad_schedules_are_refused(admin, client_for, body):
    response = client_for(admin).post("/api/v2.0/system/purgeaudit/schedule", body, format="json")
    assert_harbor_error(response, 400)
    assert not Execution.objects.exists()


def test_purge_api_is_for_sysadmins(make_user, client_for, anon_client):
    assert_harbor_error(client_for(make_user()).get("/api/v2.0/system/purgeaudit"), 403)
    assert_harbor_error(anon_client.get("/api/v2.0/system/purgeaudit"), 401)
    assert_harbor_error(client_for(make_user()).get("/api/v2.0/system/purgeaudit/999"), 403)
