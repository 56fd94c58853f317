"""What gets recorded: job schedules and manual runs, logins and logouts (API, token
service, UI session), pulls (queued through Redis), and the event-type switch."""

from __future__ import annotations

import pytest
import redis
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts import login
from audit.models import AuditLog
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from jobs import tasks as job_tasks
from jobs.models import Execution
from projects.services import create_project
from registry import pulls
from registry.models import Artifact, Tag
from tests.distribution import bearer, push_image
from tests.integration.conftest import PASSWORD, basic
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


def _entries(**filters) -> list[AuditLog]:
    return list(AuditLog.objects.filter(**filters).order_by("id"))


# -- jobs: schedules, manual runs, stops ------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "name"), [("system/gc", "gc"), ("system/purgeaudit", "purge_audit")]
)
def test_schedules_manual_runs_and_stops_are_recorded(admin, client_for, prefix, name):
    api = client_for(admin)
    api.credentials(HTTP_AUTHORIZATION=basic("admin", PASSWORD), HTTP_X_REAL_IP="10.1.2.3")
    created = api.post(
        f"/api/v2.0/{prefix}/schedule",
        {"schedule": {"type": "Custom", "cron": "0 30 2 * * *"}, "parameters": {}},
        format="json",
    )
    assert created.status_code == 201
    [schedule] = _entries(resource_type=f"{name}_schedule")
    assert (schedule.operation, schedule.username, schedule.success) == ("update", "admin", True)
    assert schedule.client_address == "10.1.2.3"
    assert "cron 0 30 2 * * *" in schedule.description

    api.put(f"/api/v2.0/{prefix}/schedule", {"schedule": {"type": "None"}}, format="json")
    assert len(_entries(resource_type=f"{name}_schedule")) == 2

    run = api.post(
        f"/api/v2.0/{prefix}/schedule",
        {"schedule": {"type": "Manual"}, "parameters": {"dry_run": True}},
        format="json",
    )
    assert run.status_code == 201
    job_id = int(run["Location"].rsplit("/", 1)[1])
    [started] = _entries(resource_type=f"{name}_job", operation="create")
    assert started.resource.endswith(f":{job_id}")
    assert '"dry_run": true' in started.description

    assert api.put(f"/api/v2.0/{prefix}/{job_id}").status_code == 200
    [stopped] = _entries(resource_type=f"{name}_job", operation="update")
    assert stopped.description == "stop requested"


def test_a_refused_schedule_records_nothing(admin, client_for):
    response = client_for(admin).post(
        "/api/v2.0/system/gc/schedule",
        {"schedule": {"type": "Custom", "cron": "0 99 * * * *"}},
        format="json",
    )
    assert response.status_code == 400
    assert not AuditLog.objects.filter(resource_type="gc_schedule").exists()


def test_scheduled_runs_are_not_user_changes(db):
    job_tasks.run_scheduled("PURGE_AUDIT_LOG")
    assert Execution.objects.filter(vendor_type="PURGE_AUDIT_LOG").exists()
    assert not AuditLog.objects.filter(resource_type="purge_audit_job").exists()


# -- logins and logouts -------------------------------------------------------------------------


def test_api_logins_success_once_per_window_and_every_failure(make_user, client_for):
    user = make_user("alice")
    api = client_for(user)
    for _ in range(3):
        assert api.get("/api/v2.0/users/current").status_code == 200
    [ok] = _entries(operation="login")
    assert (ok.username, ok.resource, ok.resource_type, ok.success) == (
        "alice",
        "alice",
        "user",
        True,
    )
    assert ok.client_address == "127.0.0.1"

    wrong = client_for(user, "not-the-password")
    for _ in range(2):
        assert wrong.get("/api/v2.0/users/current").status_code == 401
    failures = _entries(operation="login", success=False)
    assert len(failures) == 2
    assert failures[0].description == "invalid username or password"


def test_unknown_users_are_recorded_under_the_name_tried(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION=basic("ghost", "whatever"))
    assert anon_client.get("/api/v2.0/users/current").status_code == 401
    [entry] = _entries(operation="login")
    assert (entry.username, entry.success) == ("ghost", False)


def test_a_throttled_pair_adds_one_entry_per_window(make_user, client_for):
    user = make_user("bob")
    wrong = client_for(user, "bad")
    for _ in range(login.MAX_FAILURES + 5):
        wrong.get("/api/v2.0/users/current")
    failures = _entries(operation="login", success=False)
    assert len(failures) == login.MAX_FAILURES + 1
    assert failures[-1].description.startswith("throttled")


def test_token_service_logins(make_user):
    make_user("carol")
    client = Client()
    ok = client.get("/service/token", HTTP_AUTHORIZATION=basic("carol", PASSWORD))
    assert ok.status_code == 200
    bad = client.get("/service/token", HTTP_AUTHORIZATION=basic("carol", "nope"))
    assert bad.status_code == 401
    assert [(e.username, e.success) for e in _entries(operation="login")] == [
        ("carol", True),
        ("carol", False),
    ]


def test_ui_session_login_and_logout(make_user):
    make_user("dave")
    client = Client(HTTP_X_REAL_IP="192.0.2.10")
    refused = client.post("/c/login", {"principal": "dave", "password": "wrong"})
    assert refused.status_code == 401
    assert client.post("/c/login", {"principal": "dave", "password": PASSWORD}).status_code == 200
    assert client.get("/api/v2.0/users/current").status_code == 200
    assert client.post("/c/log_out").status_code == 200
    assert client.get("/api/v2.0/users/current").status_code == 401
    entries = [
        (e.operation, e.username, e.success, e.description, e.client_address)
        for e in _entries(resource_type="user")
    ]
    assert entries == [
        ("login", "dave", False, "invalid username or password", "192.0.2.10"),
        ("login", "dave", True, "session", "192.0.2.10"),
        ("logout", "dave", True, "", "192.0.2.10"),
    ]
    # a second logout (no session any more) records nothing
    assert client.post("/c/log_out").status_code == 200
    assert len(_entries(operation="logout")) == 1


def test_every_session_login_is_recorded(make_user):
    make_user("erin")
    for _ in range(2):
        client = Client()
        response = client.post("/c/login", {"principal": "erin", "password": PASSWORD})
        assert response.status_code == 200
    assert len(_entries(operation="login", success=True)) == 2


def test_logout_needs_the_csrf_token(make_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("frank"))
    assert client.post("/c/log_out").status_code == 403
    assert not AuditLog.objects.filter(operation="logout").exists()
    assert client.get("/c/log_out").status_code == 405


# -- the event-type switch ----------------------------------------------------------------------


def test_disabled_event_types_are_not_recorded(admin):
    configuration.store({"disabled_audit_log_event_types": "create_project, login_user"})
    create_project(owner=admin, name="quiet", actor=Actor.of_user(admin))
    Client().get("/service/token", HTTP_AUTHORIZATION=basic("admin", "wrong"))
    assert not AuditLog.objects.filter(operation__in=["create", "login"]).exists()
    configuration.store({"disabled_audit_log_event_types": ""})
    create_project(owner=admin, name="loud", actor=Actor.of_user(admin))
    assert AuditLog.objects.filter(resource="loud").exists()


def test_changes_through_the_api_carry_the_client_address(admin, client_for):
    api = client_for(admin)
    api.credentials(HTTP_AUTHORIZATION=basic("admin", PASSWORD), HTTP_X_REAL_IP="203.0.113.9")
    response = api.post("/api/v2.0/projects", {"project_name": "addr"}, format="json")
    assert response.status_code == 201
    entry = AuditLog.objects.get(resource="addr", operation="create")
    assert entry.client_address == "203.0.113.9"


# -- pulls ------------------------------------------------------------------------------------


def _pull_request(token: str | None, address: str = "198.51.100.4"):
    headers = {"HTTP_X_REAL_IP": address}
    if token:
        headers["HTTP_AUTHORIZATION"] = token
    return RequestFactory().get("/v2/x/manifests/y", **headers)


def _pull(artifact: Artifact, tag: Tag | None, token: str | None, address: str = "198.51.100.4"):
    pulls.record_pull(
        repository_id=artifact.repository_id,
        artifact_id=artifact.pk,
        tag_id=tag.pk if tag else None,
        event=pulls.PullEvent.of(_pull_request(token, address), artifact.repository, artifact, tag),
    )


def test_pulls_become_audit_entries_when_aggregated(make_project):
    project = make_project("demo")
    artifact = image(project, "app", "v1")
    tag = Tag.objects.get(name="v1")
    before = timezone.now()
    _pull(artifact, tag, bearer("robot$ci", "demo/app", {"pull"}))
    _pull(artifact, None, bearer("", "demo/app", {"pull"}), "198.51.100.5")
    assert not AuditLog.objects.filter(operation="pull").exists()  # nothing on the pull path

    result = pulls.aggregate()
    assert result["audit"] == 2
    by_tag, by_digest = _entries(operation="pull")
    assert by_tag.username == "robot$ci"
    assert by_tag.resource == "demo/app:v1"
    assert by_tag.description == artifact.digest
    assert (by_tag.project_id, by_tag.project_name) == (project.pk, "demo")
    assert by_tag.client_address == "198.51.100.4"
    assert by_tag.resource_type == "artifact" and by_tag.event_id is not None
    assert before <= by_tag.op_time <= timezone.now()
    assert by_digest.username == "anonymous"
    assert by_digest.resource == f"demo/app@{artifact.digest}"
    assert by_digest.client_address == "198.51.100.5"
    assert pulls.aggregate() == {"artifact": 0, "tag": 0, "repository": 0}


def test_a_replayed_batch_adds_no_entries(make_project, monkeypatch):
    """A crash after the commit and before the work keys are deleted: the next run applies
    the same events again, and their ids make that a no-op."""
    artifact = image(make_project("demo"), "app", "v1")
    for _ in range(3):
        _pull(artifact, None, bearer("alice", "demo/app", {"pull"}))
    real_delete = redis.Redis.delete

    def crash(self, *names):
        raise redis.ConnectionError("worker lost")

    monkeypatch.setattr(redis.Redis, "delete", crash)
    with pytest.raises(redis.ConnectionError):
        pulls.aggregate()
    assert AuditLog.objects.filter(operation="pull").count() == 3
    monkeypatch.setattr(redis.Redis, "delete", real_delete)
    assert pulls.aggregate()["audit"] == 0
    assert AuditLog.objects.filter(operation="pull").count() == 3
    assert pulls.aggregate() == {"artifact": 0, "tag": 0, "repository": 0}


def test_pull_logging_can_be_switched_off(make_project):
    artifact = image(make_project("demo"), "app", "v1")
    configuration.store({"disabled_audit_log_event_types": "pull_artifact"})
    _pull(artifact, None, bearer("alice", "demo/app", {"pull"}))
    result = pulls.aggregate()
    assert result["artifact"] == 1 and result["audit"] == 0
    assert not AuditLog.objects.filter(operation="pull").exists()
    assert Artifact.objects.get(pk=artifact.pk).pull_time is not None


def test_malformed_events_are_dropped(make_project):
    artifact = image(make_project("demo"), "app", "v1")
    _pull(artifact, None, None)
    pulls._redis().rpush(pulls._key(pulls.EVENTS), b"not json")
    assert pulls.aggregate()["audit"] == 1


def test_a_pull_through_the_gate_is_recorded(distribution, make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    push_image("owner", "demo/app", "v1")
    token = bearer("owner", "demo/app", {"pull"})
    client = Client(HTTP_X_REAL_IP="198.51.100.77")
    accept = "application/vnd.oci.image.manifest.v1+json"
    client.head("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token)
    response = client.get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    pulls.aggregate()
    [entry] = _entries(operation="pull")
    assert (entry.username, entry.resource, entry.client_address) == (
        "owner",
        "demo/app:v1",
        "198.51.100.77",
    )
    push = AuditLog.objects.get(operation="create", resource_type="artifact")
    assert push.username == "owner"


def test_an_absurdly_long_username_is_recorded_truncated(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION=basic("x" * 5000, "whatever"))
    assert anon_client.get("/api/v2.0/users/current").status_code == 401
    [entry] = _entries(operation="login")
    assert entry.username == "x" * 255 and not entry.success


def test_recording_works_without_redis(admin, monkeypatch):
    """`platform prepare` creates the admin before Redis runs: the settings come from the
    database then."""
    configuration.store({"disabled_audit_log_event_types": "delete_project"})

    def down():
        raise redis.ConnectionError("no redis")

    monkeypatch.setattr(configuration, "snapshot", down)
    project = create_project(owner=admin, name="offline", actor=Actor.of_user(admin))
    assert AuditLog.objects.filter(resource="offline", operation="create").exists()
    from projects.services import delete_project

    delete_project(project=project, actor=Actor(username="admin"))
    assert not AuditLog.objects.filter(resource="offline", operation="delete").exists()
