"""Read-only mode: every write refused with Harbor's 403 DENIED, reads and logins kept, no
push/delete in new tokens, writing jobs skipped, and the admin can leave the mode."""

from __future__ import annotations

import dataclasses
import json

import pytest
from django.test import Client

from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.ops.readonly import MESSAGE
from jobs import runner
from jobs.models import Status
from jobs.registry import JobType
from jobs.services import start_execution
from projects.models import Project
from projects.roles import Role
from tests.integration.conftest import PASSWORD, assert_harbor_error, basic
from tests.integration.test_token_endpoint import get_token, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def read_only(admin, client_for):
    response = client_for(admin).put("/api/v2.0/configurations", {"read_only": True}, format="json")
    assert response.status_code == 200, response.content
    assert configuration.get("read_only") is True
    return admin


def denied(response) -> None:
    error = assert_harbor_error(response, 403, "DENIED")
    assert error["message"] == MESSAGE


def test_api_writes_are_refused_and_change_nothing(read_only, client_for, make_project):
    make_project("existing")
    api = client_for(read_only)
    denied(api.post("/api/v2.0/projects", {"project_name": "fresh"}, format="json"))
    denied(api.delete("/api/v2.0/projects/existing"))
    denied(api.put("/api/v2.0/projects/existing", {"metadata": {}}, format="json"))
    denied(api.patch("/api/v2.0/users/1", {}, format="json"))
    assert sorted(Project.objects.values_list("name", flat=True)) == ["existing"]
    # Reads keep working.
    listing = api.get("/api/v2.0/projects")
    assert listing.status_code == 200 and [p["name"] for p in listing.json()] == ["existing"]
    assert api.get("/api/v2.0/systeminfo").json()["read_only"] is True


def test_refused_for_anonymous_callers_too(read_only, anon_client):
    denied(anon_client.post("/api/v2.0/projects", {"project_name": "x"}, format="json"))


def test_login_works_and_the_admin_can_leave_the_mode(read_only, client_for, make_user):
    make_user("alice")
    login = Client().post("/c/login", {"principal": "alice", "password": PASSWORD})
    assert login.status_code == 200, login.content
    api = client_for(read_only)
    assert (
        api.put("/api/v2.0/configurations", {"read_only": False}, format="json").status_code == 200
    )
    created = api.post("/api/v2.0/projects", {"project_name": "after"}, format="json")
    assert created.status_code == 201, created.content


def test_tokens_carry_pull_only(read_only, make_user, make_project):
    dev = make_user("dev")
    make_project("demo", members={dev: Role.DEVELOPER})
    response = get_token(
        Client(), "repository:demo/app:pull,push,delete", auth=basic("dev", PASSWORD)
    )
    assert payload(response.json()["token"])["access"] == [
        {"type": "repository", "name": "demo/app", "actions": ["pull"]}
    ]
    configuration.store({"read_only": False})
    response = get_token(Client(), "repository:demo/app:pull,push", auth=basic("dev", PASSWORD))
    assert sorted(payload(response.json()["token"])["access"][0]["actions"]) == ["pull", "push"]


def test_registry_writes_refused_even_with_an_old_push_token(read_only, make_user, make_project):
    from tests.distribution import bearer

    owner = make_user("owner")
    make_project("demo", owner=owner)
    token = bearer("owner", "demo/app", {"pull", "push", "delete"})  # minted before the switch
    body = json.dumps({"schemaVersion": 2}).encode()
    client = Client()
    for method, path in (
        ("put", "/v2/demo/app/manifests/v1"),
        ("delete", "/v2/demo/app/manifests/v1"),
        ("delete", "/v2/demo/app/blobs/sha256:" + "a" * 64),
        ("post", "/v2/demo/app/blobs/uploads/"),  # nginx's @explain_denial hand-over
    ):
        response = getattr(client, method)(
            path, data=body, content_type="application/json", HTTP_AUTHORIZATION=token
        )
        denied(response)


@pytest.mark.parametrize(
    ("vendor_type", "parameters", "skipped"),
    [
        ("GARBAGE_COLLECTION", {"dry_run": False}, True),
        ("REPLICATION", {"policy_id": 1}, True),
        ("GARBAGE_COLLECTION", {"dry_run": True}, False),
        ("PURGE_AUDIT_LOG", {"dry_run": False}, False),  # declared as writing no registry data
    ],
)
def test_writing_jobs_are_skipped_with_a_message(
    read_only, vendor_type, parameters, skipped, monkeypatch
):
    ran = []
    declared = runner.declaration

    def job_that_records(vendor: str) -> JobType:
        return dataclasses.replace(declared(vendor), runner=lambda context: ran.append(vendor))

    monkeypatch.setattr(runner, "declaration", job_that_records)
    execution = start_execution(
        vendor_type=vendor_type,
        parameters=parameters,
        trigger="MANUAL",
        actor=Actor.system("test"),
    )
    runner.run(execution.tasks.get().pk)
    execution.refresh_from_db()
    if skipped:
        assert ran == []
        assert execution.status == Status.ERROR
        assert "read only mode" in execution.status_message
        assert "read only mode" in execution.tasks.get().log
    else:
        assert ran == [vendor_type] and execution.status == Status.SUCCESS
