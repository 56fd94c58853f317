"""/registries and /replication/*: Harbor's shapes, sysadmin only, secrets encrypted at
rest and never returned, audit records, schedules."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from jobs.models import Execution, Status, Task
from replication import services
from replication.adapters.base import TransferError
from replication.adapters.docker_registry import DockerRegistryAdapter
from replication.models import RegistryEndpoint, ReplicationPolicy
from replication.selectors import CONTROLLER
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error

pytestmark = pytest.mark.django_db
API = "/api/v2.0"
REMOTE = {
    "name": "remote",
    "type": "harbor",
    "url": "http://127.0.0.1:9/",
    "insecure": True,
    "description": "the other one",
    "credential": {"type": "basic", "access_key": "admin", "access_secret": "s3cret!"},
}


@pytest.fixture
def api(admin, client_for):
    return client_for(admin)


def _create_registry(api, body=REMOTE) -> int:
    response = api.post(f"{API}/registries", body, format="json")
    assert_matches("createRegistry", response, 201)
    return int(response["Location"].rsplit("/", 1)[1])


def _policy_body(registry_id: int, **extra) -> dict:
    return {
        "name": "push-it",
        "dest_registry": {"id": registry_id},
        "dest_namespace": "mirror",
        "dest_namespace_replace_count": 1,
        "filters": [{"type": "name", "value": "proj/**"}, {"type": "tag", "value": "v*"}],
        "trigger": {"type": "manual", "trigger_settings": {"cron": ""}},
        "override": True,
        "enabled": True,
        "speed": 0,
        **extra,
    }


def test_registry_crud_masks_and_encrypts_the_secret(api):
    registry_id = _create_registry(api)
    stored = RegistryEndpoint.objects.get(pk=registry_id)
    assert "s3cret!" not in stored.access_secret_encrypted
    assert stored.access_secret_encrypted.startswith("enc:v1:")
    assert stored.access_secret == "s3cret!"
    assert stored.url == "http://127.0.0.1:9"

    response = api.get(f"{API}/registries/{registry_id}")
    assert_matches("getRegistry", response, 200)
    body = response.json()
    assert body["credential"] == {"type": "basic", "access_key": "admin", "access_secret": "*****"}
    assert b"s3cret" not in response.content

    response = api.get(f"{API}/registries", {"name": "rem"})
    assert_matches("listRegistries", response, 200)
    assert [r["id"] for r in response.json()] == [registry_id]
    assert response["X-Total-Count"] == "1"

    # The mask keeps the stored secret; a new value replaces it.
    response = api.put(
        f"{API}/registries/{registry_id}",
        {"description": "changed", "access_secret": "*****"},
        format="json",
    )
    assert_matches("updateRegistry", response, 200)
    stored.refresh_from_db()
    assert stored.description == "changed" and stored.access_secret == "s3cret!"
    api.put(f"{API}/registries/{registry_id}", {"access_secret": "n3w"}, format="json")
    stored.refresh_from_db()
    assert stored.access_secret == "n3w"

    assert_harbor_error(api.post(f"{API}/registries", REMOTE, format="json"), 409)
    response = api.delete(f"{API}/registries/{registry_id}")
    assert_matches("deleteRegistry", response, 200)
    assert_harbor_error(api.get(f"{API}/registries/{registry_id}"), 404)
    operations = list(
        AuditLog.objects.filter(resource_type="registry").values_list("operation", flat=True)
    )
    assert sorted(operations) == ["create", "delete", "update", "update"]


def test_sysadmin_only(make_user, client_for, anon_client):
    user = make_user()
    assert_harbor_error(client_for(user).get(f"{API}/registries"), 403)
    assert_harbor_error(client_for(user).get(f"{API}/replication/policies"), 403)
    assert_harbor_error(anon_client.get(f"{API}/replication/executions"), 401)


def test_registry_validation(api):
    assert_harbor_error(
        api.post(f"{API}/registries", {**REMOTE, "type": "quay"}, format="json"), 400
    )
    assert_harbor_error(
        api.post(f"{API}/registries", {**REMOTE, "url": "ftp://x"}, format="json"), 400
    )


def test_adapters_info_and_ping(api, monkeypatch):
    response = api.get(f"{API}/replication/adapters")
    assert_matches("listRegistryProviderTypes", response, 200)
    assert response.json() == ["docker-hub", "docker-registry", "harbor"]
    registry_id = _create_registry(api)
    response = api.get(f"{API}/registries/{registry_id}/info")
    assert_matches("getRegistryInfo", response, 200)
    assert "manual" in response.json()["supported_triggers"]

    seen = []

    def ping(self):
        seen.append((self.endpoint.url, self.credentials))
        if "bad" in self.endpoint.url:
            raise TransferError("connection refused")

    monkeypatch.setattr(DockerRegistryAdapter, "ping", ping)
    response = api.post(f"{API}/registries/ping", {"id": registry_id}, format="json")
    assert_matches("pingRegistry", response, 200)
    assert seen[-1] == ("http://127.0.0.1:9", ("admin", "s3cret!"))
    body = {"type": "harbor", "url": "http://bad.example", "access_key": "a", "access_secret": "b"}
    assert_harbor_error(api.post(f"{API}/registries/ping", body, format="json"), 400)


def test_policy_crud_and_schedule(api):
    registry_id = _create_registry(api)
    response = api.post(f"{API}/replication/policies", _policy_body(registry_id), format="json")
    assert_matches("createReplicationPolicy", response, 201)
    policy_id = int(response["Location"].rsplit("/", 1)[1])

    response = api.get(f"{API}/replication/policies/{policy_id}")
    assert_matches("getReplicationPolicy", response, 200)
    body = response.json()
    assert body["src_registry"]["id"] == 0 and body["src_registry"]["name"] == "Local"
    assert body["dest_registry"]["id"] == registry_id
    assert body["dest_registry"]["credential"]["access_secret"] == "*****"
    assert body["filters"][1] == {"type": "tag", "value": "v*", "decoration": "matches"}
    assert body["dest_namespace_replace_count"] == 1

    response = api.get(f"{API}/replication/policies")
    assert_matches("listReplicationPolicies", response, 200)
    assert len(response.json()) == 1

    scheduled = _policy_body(
        registry_id, trigger={"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}}
    )
    response = api.put(f"{API}/replication/policies/{policy_id}", scheduled, format="json")
    assert_matches("updateReplicationPolicy", response, 200)
    policy = ReplicationPolicy.objects.get(pk=policy_id)
    task = PeriodicTask.objects.get(pk=policy.periodic_task_id)
    assert task.task == "replication.tasks.run_scheduled_policy"
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")

    # The registry is in use; the policy goes with its schedule.
    assert_harbor_error(api.delete(f"{API}/registries/{registry_id}"), 412)
    response = api.delete(f"{API}/replication/policies/{policy_id}")
    assert_matches("deleteReplicationPolicy", response, 200)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    operations = sorted(
        AuditLog.objects.filter(resource_type="replication_policy").values_list(
            "operation", flat=True
        )
    )
    assert operations == ["create", "delete", "update"]


@pytest.mark.parametrize(
    "change",
    [
        {"dest_registry": None},  # local to local
        {"src_registry": {"id": 1}},  # remote to remote (id patched below)
        {"dest_namespace_replace_count": 4},
        {"trigger": {"type": "scheduled", "trigger_settings": {}}},
        {"trigger": {"type": "sometimes"}},
        {"filters": [{"type": "size", "value": "1"}]},
    ],
)
def test_policy_validation(api, change):
    registry_id = _create_registry(api)
    if "src_registry" in change:
        change = {"src_registry": {"id": registry_id}}
    body = {**_policy_body(registry_id), **change}
    assert_harbor_error(api.post(f"{API}/replication/policies", body, format="json"), 400)


def test_executions_start_list_tasks_log_stop(api, admin):
    registry_id = _create_registry(api)
    api.post(f"{API}/replication/policies", _policy_body(registry_id), format="json")
    policy = ReplicationPolicy.objects.get()
    # on_commit never fires inside the test transaction: the run stays pending.
    response = api.post(f"{API}/replication/executions", {"policy_id": policy.pk}, format="json")
    assert_matches("startReplication", response, 201)
    execution = Execution.objects.get(pk=int(response["Location"].rsplit("/", 1)[1]))
    assert (execution.vendor_type, execution.vendor_id) == ("REPLICATION", policy.pk)
    # What the job records: a controller task, then one task per artifact.
    execution.tasks.update(extra_attrs={"kind": CONTROLLER})
    done = Task.objects.create(
        execution=execution,
        status=Status.SUCCESS,
        log="copied\n",
        extra_attrs={"operation": "copy", "resource_type": "image", "src_resource": "a/b:[v1]"},
    )
    Task.objects.create(execution=execution, status=Status.ERROR)
    Task.objects.create(execution=execution)

    response = api.get(f"{API}/replication/executions", {"policy_id": policy.pk})
    assert_matches("listReplicationExecutions", response, 200)
    (item,) = response.json()
    assert item["status"] == "InProgress" and item["trigger"] == "manual"
    assert (item["total"], item["succeed"], item["failed"], item["in_progress"]) == (3, 1, 1, 1)
    assert api.get(f"{API}/replication/executions", {"status": "Succeed"}).json() == []

    response = api.get(f"{API}/replication/executions/{execution.pk}")
    assert_matches("getReplicationExecution", response, 200)

    response = api.get(f"{API}/replication/executions/{execution.pk}/tasks")
    assert_matches("listReplicationTasks", response, 200)
    assert [t["status"] for t in response.json()] == ["Succeed", "Failed", "InProgress"]
    response = api.get(f"{API}/replication/executions/{execution.pk}/tasks", {"status": "Failed"})
    assert len(response.json()) == 1

    response = api.get(f"{API}/replication/executions/{execution.pk}/tasks/{done.pk}/log")
    assert response.status_code == 200 and response.content == b"copied\n"
    controller = execution.tasks.get(extra_attrs__kind=CONTROLLER)
    assert_harbor_error(
        api.get(f"{API}/replication/executions/{execution.pk}/tasks/{controller.pk}/log"), 404
    )

    response = api.put(f"{API}/replication/executions/{execution.pk}")
    assert_matches("stopReplication", response, 200)
    execution.refresh_from_db()
    assert execution.stop_requested


def test_disabled_policy_does_not_start(api):
    registry_id = _create_registry(api)
    api.post(f"{API}/replication/policies", _policy_body(registry_id, enabled=False), format="json")
    policy = ReplicationPolicy.objects.get()
    assert_harbor_error(
        api.post(f"{API}/replication/executions", {"policy_id": policy.pk}, format="json"), 400
    )
    with pytest.raises(Exception):  # noqa: B017
        services.start(policy=policy)
