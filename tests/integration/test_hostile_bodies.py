"""Bad input on the second wave's API (webhooks, retention, job service and schedules,
registries, scanners, robots, configurations) gets a 4xx in Harbor's error shape, never a
5xx: values of the wrong type where a name or a set member is expected, digits that are
not ASCII, URLs that do not parse, ids beyond 64 bits. Each case was a 500 before its
check (tests/e2e/test_fuzz.py fuzzes the same bodies on a whole instance)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from harbor_py.core.actor import Actor
from replication import services as replication_services
from replication.models import RegistryEndpoint
from retention import services as retention_services
from scanning.models import Scanner
from tests.integration.conftest import assert_harbor_error, at_statement
from tests.integration.test_delete_races import Background
from tests.integration.test_retention import _rule as retention_rule

pytestmark = pytest.mark.django_db
HUGE = "99999999999999999999999"
ADMIN = Actor(username="admin")


@pytest.fixture
def api(admin, make_project, client_for):
    make_project("demo", owner=admin)
    return client_for(admin)


def _rule(**changes) -> dict:
    return {**retention_rule("latestPushedK", 3), **changes}


def _retention(project_id: int, **rule) -> dict:
    return {
        "algorithm": "or",
        "rules": [_rule(**rule)],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project_id},
    }


def _webhook(address: str) -> dict:
    return {
        "name": "hook",
        "targets": [{"type": "http", "address": address}],
        "event_types": ["PUSH_ARTIFACT"],
    }


def _robot(**permission) -> dict:
    return {
        "name": "ci",
        "level": "system",
        "duration": -1,
        "permissions": [
            {
                "kind": "project",
                "namespace": "demo",
                "access": [{"resource": "repository", "action": "pull"}],
                **permission,
            }
        ],
    }


def _registry(url: str) -> dict:
    return {"name": "upstream", "type": "docker-registry", "url": url}


def _scanner(url: str) -> dict:
    return {"name": "trivy", "url": url}


@pytest.mark.parametrize(
    "rule",
    [
        {"template": ["latestPushedK"]},
        {"template": {"latestPushedK": 1}},
        {"params": {"latestPushedK": "²"}},
        {"params": {"latestPushedK": "٣"}},
    ],
    ids=["template-list", "template-object", "superscript-digit", "arabic-indic-digit"],
)
def test_retention_rules(api, rule):
    project_id = api.get("/api/v2.0/projects/demo").json()["project_id"]
    body = _retention(project_id, **rule)
    assert_harbor_error(api.post("/api/v2.0/retentions", body, format="json"), 400)


@pytest.mark.parametrize(
    "address",
    ["http://[", "http://127.0.0.1:99999/", "http://127.0.0.1:port/", "https://[::1]:0x/"],
)
def test_webhook_target_addresses(api, address, settings):
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = True  # the default: the address is resolved
    path = "/api/v2.0/projects/demo/webhook/policies"
    assert_harbor_error(api.post(path, _webhook(address), format="json"), 400)
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = False
    assert_harbor_error(api.post(path, _webhook(address), format="json"), 400)


@pytest.mark.parametrize(
    "path",
    ["/api/v2.0/system/gc/schedule", "/api/v2.0/system/purgeaudit/schedule"],
)
@pytest.mark.parametrize("kind", [["Manual"], {"Daily": 1}])
def test_system_job_schedule_types(api, path, kind):
    body = {"schedule": {"type": kind, "cron": "0 0 0 * * *"}}
    for method in (api.post, api.put):
        assert_harbor_error(method(path, body, format="json"), 400)


@pytest.mark.parametrize("kind", [["Manual"], {"Daily": 1}])
def test_scan_all_schedule_types(api, kind):
    body = {"schedule": {"type": kind, "cron": "0 0 0 * * *"}}
    path = "/api/v2.0/system/scanAll/schedule"
    for method in (api.post, api.put):
        assert_harbor_error(method(path, body, format="json"), 400)


@pytest.mark.parametrize(
    "permission",
    [
        {"kind": ["project"]},
        {"access": ["repository:pull"]},
        {"access": "repository"},
        {"access": [{"resource": ["repository"], "action": "pull"}]},
    ],
    ids=["kind-list", "access-strings", "access-string", "resource-list"],
)
def test_robot_permissions(api, permission):
    assert_harbor_error(api.post("/api/v2.0/robots", _robot(**permission), format="json"), 400)


@pytest.mark.parametrize("url", ["http://[", "http://127.0.0.1:99999", "https://a:b"])
def test_scanner_urls(api, url):
    assert_harbor_error(api.post("/api/v2.0/scanners", _scanner(url), format="json"), 400)
    assert_harbor_error(api.post("/api/v2.0/scanners/ping", _scanner(url), format="json"), 400)


@pytest.mark.parametrize("url", ["http://[", "http://127.0.0.1:99999", "https://a:b"])
def test_registry_urls(api, url):
    assert_harbor_error(api.post("/api/v2.0/registries", _registry(url), format="json"), 400)
    ping = {"type": "docker-registry", "url": url}
    assert_harbor_error(api.post("/api/v2.0/registries/ping", ping, format="json"), 400)


def test_urls_stored_before_their_check(api):
    """A registry or scanner written before the URL check: pinging it is refused as an
    unreachable one is, not a 500 (the port "b" was one in httpx)."""
    endpoint = RegistryEndpoint.objects.create(
        name="old", type="docker-registry", url="https://a:b"
    )
    ping = api.post("/api/v2.0/registries/ping", {"id": endpoint.pk}, format="json")
    assert_harbor_error(ping, 400)
    scanner = Scanner.objects.create(name="old", url="https://a:b")
    # the adapter is unavailable, as one that does not answer (scanning/api/views.py)
    assert_harbor_error(api.get(f"/api/v2.0/scanners/{scanner.uuid}/metadata"), 503)


@pytest.mark.parametrize("url", ["ldap://[", "ldaps://[::1"])
def test_ldap_url_setting(api, url):
    response = api.put("/api/v2.0/configurations", {"ldap_url": url}, format="json")
    assert_harbor_error(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v2.0/retentions/{HUGE}",
        f"/api/v2.0/retentions/{HUGE}/executions",
        f"/api/v2.0/registries/{HUGE}",
        f"/api/v2.0/registries/{HUGE}/info",
        f"/api/v2.0/projects/demo/webhook/policies/{HUGE}",
        f"/api/v2.0/projects/demo/webhook/policies/{HUGE}/executions",
        f"/api/v2.0/projects/demo/webhook/jobs?policy_id={HUGE}",
        f"/api/v2.0/jobservice/jobs/{HUGE}/log",
        f"/api/v2.0/robots/{HUGE}",
        f"/api/v2.0/labels/{HUGE}",
        f"/api/v2.0/scanners/{HUGE}",
        f"/api/v2.0/export/cve/execution/{HUGE}",
    ],
)
def test_ids_beyond_64_bits(api, path):
    response = api.get(path)
    assert 400 <= response.status_code < 500
    assert_harbor_error(response, response.status_code)


def _retention_policy(project) -> tuple[Any, Callable[[Any], object]]:
    body = _retention(project.pk)
    body["trigger"]["settings"]["cron"] = "0 0 0 * * *"
    policy = retention_services.create_policy(project=project, data=body, actor=ADMIN)
    return policy, lambda stale: retention_services.update_policy(
        policy=stale, data=body, actor=ADMIN
    )


def _replication_policy(project) -> tuple[Any, Callable[[Any], object]]:
    endpoint = RegistryEndpoint.objects.create(name="r", type="harbor", url="http://127.0.0.1:9")
    values = {"dest_registry": endpoint, "trigger_type": "scheduled", "cron": "0 0 0 * * *"}
    policy = replication_services.create_policy(values={"name": "p", **values}, actor=ADMIN)
    return policy, lambda stale: replication_services.update_policy(
        policy=stale, values=values, actor=ADMIN
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("made", [_retention_policy, _replication_policy])
def test_two_updates_of_a_scheduled_policy_at_once(admin, make_project, made):
    """Each update replaces the policy's beat task (one name per policy): the second, read
    before the first committed, deleted the task the first had replaced and created one
    under the same name (a unique violation, 500). Found by the fuzzer's concurrent PUTs."""
    policy, update = made(make_project("demo", owner=admin))
    meanwhile: list[Background] = []

    def second_update() -> None:
        stale = type(policy).objects.get(pk=policy.pk)
        meanwhile.append(Background(lambda: update(stale)))
        meanwhile[0].done.wait(2)  # held by the first update's lock, or done (failed) already

    with at_statement('DELETE FROM "django_celery_beat_periodictask"', second_update):
        update(type(policy).objects.get(pk=policy.pk))
    meanwhile[0].join()
    name = PeriodicTask.objects.get(pk=type(policy).objects.get(pk=policy.pk).periodic_task_id)
    assert name.name.endswith(f"-policy-{policy.pk}")
