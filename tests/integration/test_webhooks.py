"""Webhooks (#26): Harbor's policy API and RBAC, and deliveries of published events to real
HTTP receivers on loopback (tests/webhook_receiver.py) in each payload format, with the
retries, time-outs, refusals and failing-target marks of webhooks.delivery. The Celery
tasks run inline here (settings_test); tests/e2e/test_webhooks.py runs them in a worker."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from django.db import transaction
from django.test import TestCase

from audit.models import AuditLog
from harbor_py.core.actor import Actor
from harbor_py.core.events import publish
from jobs.models import Execution, Task
from projects.roles import Role
from quotas.events import QuotaExceeded
from registry.events import ArtifactDeleted, ArtifactPushed
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error
from tests.webhook_receiver import Receivers
from webhooks import delivery, sender
from webhooks.models import TargetState, WebhookPolicy

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]
DIGEST = "sha256:" + "c" * 64
ALL = ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT", "QUOTA_EXCEED", "QUOTA_WARNING"]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (0.05, 0.05, 0.05))


@pytest.fixture
def world(make_user, make_project, client_for):
    admin = make_user(sysadmin=True)
    maintainer, developer = make_user(), make_user()
    project = make_project(
        "hooks", members={maintainer: Role.MAINTAINER, developer: Role.DEVELOPER}
    )
    return {
        "project": project,
        "admin": client_for(admin),
        "maintainer": client_for(maintainer),
        "developer": client_for(developer),
    }


@pytest.fixture
def receivers():
    pool = Receivers()
    yield pool
    pool.close()


def target(url: str, **extra) -> dict:
    return {"type": "http", "address": url, "skip_cert_verify": True, **extra}


def body(*targets: dict, name: str = "hook", events: list[str] | None = None, **extra) -> dict:
    return {
        "name": name,
        "description": "",
        "targets": list(targets),
        "event_types": events or ["PUSH_ARTIFACT"],
        "enabled": True,
        **extra,
    }


def create(api, payload: dict, project: str = "hooks") -> int:
    response = api.post(f"/api/v2.0/projects/{project}/webhook/policies", payload, format="json")
    assert response.status_code == 201, response.content
    return int(response["Location"].rsplit("/", 1)[1])


def push(repository: str = "hooks/app", tags: tuple[str, ...] = ("v1",), event=ArtifactPushed):
    """Publish as a push's transaction does; the outbox delivery and the job run inline."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        publish(event("hooks", repository, DIGEST, tags, "alice"))


def deliveries(policy_id: int) -> list[Execution]:
    return list(Execution.objects.filter(vendor_id=policy_id, vendor_type__in=("WEBHOOK", "SLACK")))


def test_policy_crud_in_harbors_shapes(world, receivers):
    api, hook = world["admin"], receivers()
    base = "/api/v2.0/projects/hooks/webhook"
    policy_id = create(api, body(target(hook.url, auth_header="Bearer s3cret")))
    listed = api.get(f"{base}/policies")
    assert_matches("ListWebhookPoliciesOfProject", listed, 200)
    assert listed["X-Total-Count"] == "1"
    got = api.get(f"{base}/policies/{policy_id}")
    assert_matches("GetWebhookPolicyOfProject", got, 200)
    assert got.json()["targets"] == [
        {
            "type": "http",
            "address": hook.url,
            "auth_header": "Bearer s3cret",
            "skip_cert_verify": True,
            "payload_format": "Default",
        }
    ]
    assert got.json()["project_id"] == world["project"].pk and got.json()["enabled"] is True
    changed = body(target(hook.url, payload_format="CloudEvents"), name="renamed", enabled=False)
    assert api.put(f"{base}/policies/{policy_id}", changed, format="json").status_code == 200
    got = api.get(f"{base}/policies/{policy_id}").json()
    assert (got["name"], got["enabled"], got["targets"][0]["payload_format"]) == (
        "renamed",
        False,
        "CloudEvents",
    )
    events = api.get(f"{base}/events")
    assert_matches("GetSupportedEventTypes", events, 200)
    assert set(events.json()["event_type"]) >= {"PUSH_ARTIFACT", "SCANNING_COMPLETED"}
    assert {"notify_type": "http", "formats": ["Default", "CloudEvents"]} in events.json()[
        "payload_formats"
    ]
    assert api.delete(f"{base}/policies/{policy_id}").status_code == 200
    assert_harbor_error(api.get(f"{base}/policies/{policy_id}"), 404, "NOT_FOUND")
    operations = list(
        AuditLog.objects.filter(resource_type="notification_policy").values_list(
            "operation", flat=True
        )
    )
    assert sorted(operations) == ["create", "delete", "update"]


def test_notification_policy_rbac_is_harbors(world, receivers):
    hook = receivers()
    policy_id = create(world["admin"], body(target(hook.url)))
    base = "/api/v2.0/projects/hooks/webhook"
    maintainer, developer = world["maintainer"], world["developer"]
    assert maintainer.get(f"{base}/policies").status_code == 200
    assert maintainer.get(f"{base}/policies/{policy_id}").status_code == 200
    assert maintainer.get(f"{base}/lasttrigger").status_code == 200
    assert_harbor_error(
        maintainer.post(f"{base}/policies", body(target(hook.url), name="x"), format="json"), 403
    )
    assert_harbor_error(maintainer.delete(f"{base}/policies/{policy_id}"), 403)
    assert_harbor_error(developer.get(f"{base}/policies"), 403)
    assert_harbor_error(developer.get(f"{base}/policies/{policy_id}/executions"), 403)


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"event_types": ["NOPE"]}, 400),
        ({"event_types": []}, 400),
        ({"targets": []}, 400),
        (
            {
                "targets": [
                    {"type": "slack", "address": "http://x.test/", "payload_format": "CloudEvents"}
                ]
            },
            400,
        ),
        ({"targets": [{"type": "mail", "address": "http://x.test/"}]}, 400),
        ({"targets": [{"type": "http", "address": "ftp://x.test/"}]}, 400),
        ({"enabled": "yes"}, 400),
        ({"name": ""}, 400),
    ],
)
def test_bad_policies_are_refused(world, change, status):
    payload = {**body(target("http://127.0.0.1:9/hook")), **change}
    response = world["admin"].post(
        "/api/v2.0/projects/hooks/webhook/policies", payload, format="json"
    )
    assert_harbor_error(response, status)


def test_a_second_policy_of_the_same_name_is_409(world):
    create(world["admin"], body(target("http://127.0.0.1:9/a")))
    response = world["admin"].post(
        "/api/v2.0/projects/hooks/webhook/policies",
        body(target("http://127.0.0.1:9/b")),
        format="json",
    )
    assert_harbor_error(response, 409)


def test_secrets_are_encrypted_at_rest_and_the_signing_secret_never_answered(world):
    policy_id = create(
        world["admin"],
        body(target("http://127.0.0.1:9/a", auth_header="Bearer tok", signing_secret="shh")),
    )
    stored = WebhookPolicy.objects.get(pk=policy_id).targets[0]
    assert "tok" not in json.dumps(stored) and "shh" not in json.dumps(stored)
    assert stored["auth_header"].startswith("enc:v1:")
    answered = world["admin"].get(f"/api/v2.0/projects/hooks/webhook/policies/{policy_id}")
    assert "signing_secret" not in json.dumps(answered.json())
    # an update that does not name the signing secret keeps it
    world["admin"].put(
        f"/api/v2.0/projects/hooks/webhook/policies/{policy_id}",
        body(target("http://127.0.0.1:9/a")),
        format="json",
    )
    assert (
        WebhookPolicy.objects.get(pk=policy_id).targets[0]["signing_secret"]
        == stored["signing_secret"]
    )


def test_private_targets_are_refused_when_the_setting_is_on(world, settings):
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = True
    for address in (
        "http://127.0.0.1:8080/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/",
    ):
        response = world["admin"].post(
            "/api/v2.0/projects/hooks/webhook/policies",
            body(target(address)),
            format="json",
        )
        assert_harbor_error(response, 400)
        assert "private" in response.json()["errors"][0]["message"]
    with pytest.raises(sender.Refused):
        sender.send("http://localhost:9/", b"{}", {})


def test_the_request_goes_to_the_address_that_was_checked(settings, monkeypatch, receivers):
    """DNS rebinding: the name resolves to an allowed address for the check and to a
    private one afterwards; the request still goes to the checked address, with the
    name in Host."""
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = True
    checked = receivers()  # 127.0.0.1, taken as a public address below
    port = int(checked.url.split(":")[2].split("/")[0])
    inside = receivers(host="127.0.0.2", port=port)  # what the second answer points to
    monkeypatch.setattr(sender, "_private", lambda address: address != "127.0.0.1")
    resolve = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host, *args, **kwargs):
        if host != "hooks.rebind.test":
            return resolve(host, *args, **kwargs)
        address = next(answers, "127.0.0.2")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] if args else 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    outcome = sender.send(f"http://hooks.rebind.test:{port}/hook", b"{}", {})
    assert outcome.ok, outcome
    [got] = checked.wait_for(1, timeout=5)
    assert got.headers["Host"] == f"hooks.rebind.test:{port}"
    assert inside.attempts == 0


def test_a_push_reaches_every_target_in_its_format(world, receivers):
    default, cloud, slack = receivers(), receivers(), receivers()
    policy_id = create(
        world["admin"],
        body(
            target(default.url, auth_header="Bearer tok", signing_secret="shared"),
            target(cloud.url, payload_format="CloudEvents"),
            {"type": "slack", "address": slack.url},
        ),
    )
    push(tags=("v1", "latest"))
    [got] = default.wait_for(1, timeout=10)
    payload = got.json()
    assert payload["type"] == "PUSH_ARTIFACT" and payload["operator"] == "alice"
    assert isinstance(payload["occur_at"], int)
    data = payload["event_data"]
    assert [r["tag"] for r in data["resources"]] == ["v1", "latest"]
    assert {r["digest"] for r in data["resources"]} == {DIGEST}
    assert data["resources"][0]["resource_url"].endswith("/hooks/app:v1")
    assert data["repository"] == {
        "name": "app",
        "namespace": "hooks",
        "repo_full_name": "hooks/app",
        "repo_type": "private",
    }
    assert got.headers["Authorization"] == "Bearer tok"
    assert got.headers["X-Harbor-Sequence"] == "1"
    # the receiver checks the HMAC of the body with the shared secret
    expected = "sha256=" + hmac.new(b"shared", got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Harbor-Signature-256"], expected)

    [ce] = cloud.wait_for(1, timeout=10)
    event = from_http_event(HTTPMessage(headers=ce.headers, body=ce.body))  # the SDK validates
    assert event.get_type() == "harbor.artifact.pushed"
    assert event.get_specversion() == "1.0"
    assert event.get_id() == got.headers["X-Harbor-Event-Id"]
    assert event.get_source() == f"/projects/{world['project'].pk}/webhook/policies/{policy_id}"
    assert event.get_data()["repository"]["repo_full_name"] == "hooks/app"
    assert event.get_extension("operator") == "alice"
    assert "Authorization" not in ce.headers and "X-Harbor-Signature-256" not in ce.headers

    [message] = slack.wait_for(1, timeout=10)
    blocks = message.json()["blocks"]
    assert "PUSH_ARTIFACT" in blocks[1]["text"]["text"]

    runs = deliveries(policy_id)
    assert sorted(r.vendor_type for r in runs) == ["SLACK", "WEBHOOK", "WEBHOOK"]
    assert {r.status for r in runs} == {"Success"}
    assert {r.extra_attrs["event_type"] for r in runs} == {"PUSH_ARTIFACT"}


def test_executions_tasks_logs_and_last_trigger(world, receivers):
    hook = receivers()
    api = world["admin"]
    policy_id = create(api, body(target(hook.url), events=ALL))
    push()
    hook.wait_for(1, timeout=10)
    base = f"/api/v2.0/projects/hooks/webhook/policies/{policy_id}"
    executions = api.get(f"{base}/executions")
    assert_matches("ListExecutionsOfWebhookPolicy", executions, 200)
    [execution] = executions.json()
    assert (execution["vendor_type"], execution["status"], execution["trigger"]) == (
        "WEBHOOK",
        "Success",
        "EVENT",
    )
    assert execution["extra_attrs"]["event_type"] == "PUSH_ARTIFACT"
    tasks = api.get(f"{base}/executions/{execution['id']}/tasks")
    assert_matches("ListTasksOfWebhookExecution", tasks, 200)
    [task] = tasks.json()
    log = api.get(f"{base}/executions/{execution['id']}/tasks/{task['id']}/log")
    assert log.status_code == 200 and log["Content-Type"].startswith("text/plain")
    text = log.content.decode()
    assert f"POST {hook.url} PUSH_ARTIFACT" in text and "response: 200" in text
    assert "body: '{\"ok\": true}'" in text
    last = api.get("/api/v2.0/projects/hooks/webhook/lasttrigger")
    assert_matches("LastTrigger", last, 200)
    rows = {row["event_type"]: row for row in last.json()}
    assert set(rows) == set(ALL)
    assert "last_trigger_time" in rows["PUSH_ARTIFACT"]
    assert "last_trigger_time" not in rows["DELETE_ARTIFACT"]
    jobs = api.get(f"/api/v2.0/projects/hooks/webhook/jobs?policy_id={policy_id}")
    assert_matches("ListWebhookJobs", jobs, 200)
    assert jobs.json()[0]["event_type"] == "PUSH_ARTIFACT"


def test_events_a_policy_does_not_name_and_disabled_policies_send_nothing(world, receivers):
    hook = receivers()
    create(world["admin"], body(target(hook.url), events=["DELETE_ARTIFACT"]))
    create(world["admin"], body(target(hook.url + "2"), name="off", enabled=False))
    push()
    assert Execution.objects.filter(vendor_type="WEBHOOK").count() == 0
    push(event=ArtifactDeleted)
    [got] = hook.wait_for(1, timeout=10)
    assert got.json()["type"] == "DELETE_ARTIFACT"


def test_a_500_is_retried_and_a_4xx_is_not(world, receivers):
    flaky = receivers(mode="flaky", failures=2)
    refusing = receivers(mode="flaky", failures=99, code=404)
    policy_id = create(world["admin"], body(target(flaky.url), target(refusing.url)))
    push()
    flaky.wait_for(1, timeout=10)
    assert flaky.attempts == 3
    assert refusing.attempts == 1
    by_address = {r.parameters["address"]: r for r in deliveries(policy_id)}
    assert by_address[flaky.url].status == "Success"
    assert by_address[refusing.url].status == "Error"
    assert "HTTP 404" in by_address[refusing.url].status_message
    log = Task.objects.get(execution=by_address[flaky.url]).log
    assert log.count("response: 500") == 2 and "response: 200" in log


def test_a_retry_is_rescheduled_with_a_countdown_not_slept(world, receivers, monkeypatch):
    """Between attempts the task is pending (due time in its lease column) and its Celery
    message is sent again with the back-off as countdown: no worker waits. A retry whose
    message was lost is requeued by jobs' orphan scan; a stop while it waits stops it."""
    from jobs import lease, runner, services
    from jobs.models import Status

    monkeypatch.setattr(delivery, "BACKOFF_SECONDS", (30.0, 60.0, 90.0))
    sent: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(runner.run_task, "apply_async", lambda args, **kw: sent.append((args, kw)))
    flaky = receivers(mode="flaky", failures=1)
    policy_id = create(world["admin"], body(target(flaky.url)))
    push()  # the first attempt runs inline (settings_test), its retry is only scheduled
    [execution] = deliveries(policy_id)
    task = Task.objects.get(execution=execution)
    assert (flaky.attempts, execution.status, task.status) == (1, "Running", "Pending")
    assert [(args, kw["countdown"]) for args, kw in sent] == [((task.pk,), 30.0)]
    assert task.worker == "" and task.extra_attrs["retries"] == 1
    assert "response: 500" in task.log and "retrying in 30 s" in task.log
    assert task.pk not in lease.orphaned_task_ids()  # not due yet
    Task.objects.filter(pk=task.pk).update(heartbeat=task.heartbeat - dt.timedelta(seconds=200))
    assert task.pk in lease.orphaned_task_ids()  # its message is overdue: requeued
    runner.run(task.pk)  # what the countdown message does
    execution.refresh_from_db()
    assert (flaky.attempts, execution.status) == (2, "Success")
    assert "attempt 2/4" in Task.objects.get(pk=task.pk).log

    never = receivers(mode="flaky", failures=99)
    other = create(world["admin"], body(target(never.url), name="other"))
    push()
    [waiting] = deliveries(other)
    assert waiting.status == "Running"
    services.request_stop(waiting, actor=Actor.system("test"))
    waiting.refresh_from_db()
    assert waiting.status == Status.STOPPED
    runner.run(Task.objects.get(execution=waiting).pk)  # the countdown message, later
    assert never.attempts == 1


def test_a_closed_connection_and_a_slow_receiver_are_retried_then_fail(
    world, receivers, monkeypatch
):
    monkeypatch.setattr(sender, "READ_TIMEOUT", 0.3)
    closing = receivers(mode="close")
    slow = receivers(mode="slow", delay=1.5)
    policy_id = create(world["admin"], body(target(closing.url), target(slow.url)))
    push()
    assert closing.attempts == delivery.MAX_ATTEMPTS
    assert slow.attempts == delivery.MAX_ATTEMPTS
    runs = {r.parameters["address"]: r for r in deliveries(policy_id)}
    assert {r.status for r in runs.values()} == {"Error"}
    assert "timed out" in Task.objects.get(execution=runs[slow.url]).log


def test_a_target_that_keeps_failing_is_marked_and_gets_no_more_retries(world, receivers):
    closing = receivers(mode="close")
    policy_id = create(world["admin"], body(target(closing.url)))
    for _ in range(delivery.FAILING_AFTER):
        push()
    state = TargetState.objects.get(policy_id=policy_id, address=closing.url)
    assert state.failing and state.consecutive_failures == delivery.FAILING_AFTER
    before = closing.attempts
    push()
    assert closing.attempts == before + 1  # one attempt, no retries
    closing.mode = "ok"
    push()
    state.refresh_from_db()
    assert not state.failing and state.consecutive_failures == 0


def test_redirects_to_another_host_are_not_followed(world, receivers):
    elsewhere = receivers()
    redirecting = receivers(
        mode="redirect", location=elsewhere.url.replace("127.0.0.1", "localhost")
    )
    policy_id = create(world["admin"], body(target(redirecting.url)))
    push()
    assert elsewhere.attempts == 0 and redirecting.attempts == 1
    [run] = deliveries(policy_id)
    assert run.status == "Error" and "redirect" in run.status_message


def test_sequence_numbers_grow_per_target(world, receivers):
    hook = receivers()
    create(world["admin"], body(target(hook.url)))
    for tag in ("a", "b", "c"):
        push(tags=(tag,))
    got = hook.wait_for(3, timeout=10)
    assert [r.headers["X-Harbor-Sequence"] for r in got] == ["1", "2", "3"]
    assert len({r.headers["X-Harbor-Event-Id"] for r in got}) == 3


def test_a_refused_quota_push_is_a_quota_exceed_webhook(world, receivers):
    hook = receivers()
    create(world["admin"], body(target(hook.url), events=["QUOTA_EXCEED"]))
    with TestCase.captureOnCommitCallbacks(execute=True):  # the gate publishes after rollback
        publish(QuotaExceeded("hooks", "hooks/app", DIGEST, 900, 1000, 200))
    [got] = hook.wait_for(1, timeout=10)
    payload = got.json()
    assert payload["type"] == "QUOTA_EXCEED"
    assert payload["event_data"]["resources"] == [{"digest": DIGEST}]
    assert (
        "exceed the configured upper limit" in payload["event_data"]["custom_attributes"]["Details"]
    )


def test_a_project_without_policies_writes_no_outbox_row(world):
    from harbor_py.models import EventOutbox

    rows = EventOutbox.objects.filter(consumer__startswith="webhooks:")
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v1",), "alice"))
    assert rows.count() == 0
    create(world["admin"], body(target("http://127.0.0.1:9/a")))
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v1",), "alice"))
    assert rows.count() == 1  # not delivered: the test's transaction never commits


def test_quota_webhooks_from_real_pushes(world, receivers):
    """A push that crosses 85% of the limit is a QUOTA_WARNING, one refused over the limit
    a QUOTA_EXCEED (published after the refused push rolled back)."""
    from quotas.models import Quota
    from registry import push as pushing
    from registry.manifests import parse_manifest
    from tests.integration.test_quotas import MANIFEST, manifest, record

    hook = receivers()
    create(world["admin"], body(target(hook.url), events=["QUOTA_WARNING", "QUOTA_EXCEED"]))
    project = world["project"]
    with TestCase.captureOnCommitCallbacks(execute=True):
        record(project, "app", manifest({"a": 10_000}))
    used = Quota.objects.get(project=project).used  # about 10,400 bytes: under 85% of...
    Quota.objects.filter(project=project).update(hard=used + 3000)  # ...about 13,400
    with TestCase.captureOnCommitCallbacks(execute=True):
        record(project, "app", manifest({"b": 1500}, config_seed="c2"), tag="v2")  # over 85%
    big = parse_manifest(manifest({"big": 100_000}, config_seed="c3"), MANIFEST)
    with TestCase.captureOnCommitCallbacks(execute=True), pytest.raises(Exception, match="Quota"):
        # as the /v2 gate calls it: outside a transaction of its own
        pushing.reserve(project=project, repository_name="hooks/app", parsed=big, tag="v3")
    got = hook.wait_for(2, timeout=10)
    assert [r.json()["type"] for r in got] == ["QUOTA_WARNING", "QUOTA_EXCEED"]
    assert "quota usage reach" in got[0].json()["event_data"]["custom_attributes"]["Details"]
    exceeded = got[1].json()["event_data"]
    assert exceeded["repository"]["repo_full_name"] == "hooks/app"
    assert "exceed the configured upper limit" in exceeded["custom_attributes"]["Details"]


def test_a_copy_refused_over_the_quota_is_a_quota_exceed_webhook(
    distribution, make_user, make_project, client_for, receivers
):
    """A copy records both phases of the push in one transaction: its QUOTA_EXCEED is
    published once that transaction rolled back (the real API path, real distribution)."""
    from quotas.models import Quota
    from tests.distribution import push_image

    owner = make_user("owner")
    make_project("src", owner=owner)
    hooked = make_project("hooks", owner=owner)
    digest = push_image("owner", "src/app", "v1")
    api, hook = client_for(owner), receivers()
    create(api, body(target(hook.url), events=["QUOTA_EXCEED"]))
    Quota.objects.update_or_create(project=hooked, defaults={"hard": 100, "used": 0})
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post("/api/v2.0/projects/hooks/repositories/copy/artifacts?from=src/app:v1")
    assert_harbor_error(response, 403)
    assert "Quota exceeded" in response.json()["errors"][0]["message"]
    [got] = hook.wait_for(1, timeout=10)
    payload = got.json()
    assert payload["type"] == "QUOTA_EXCEED"
    assert payload["event_data"]["resources"] == [{"digest": digest}]
    assert payload["event_data"]["repository"]["repo_full_name"] == "hooks/copy"
    assert (
        "exceed the configured upper limit of 100 B"
        in (payload["event_data"]["custom_attributes"]["Details"])
    )


def test_a_retention_run_is_a_tag_retention_webhook(distribution, world, receivers):
    """A real retention run (not a dry run) that deleted something: Harbor's TAG_RETENTION,
    with the counts, the policy's rules and each deleted tag; a dry run sends nothing."""
    from jobs import runner
    from retention import services as retention
    from tests.integration import registry_data

    hook = receivers()
    create(world["admin"], body(target(hook.url), events=["TAG_RETENTION"]))
    for tag in ("v1", "v2", "v3"):
        registry_data.image(world["project"], "app", tag)
    rule = {
        "template": "latestPushedK",
        "action": "retain",
        "params": {"latestPushedK": 1},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }
    policy = retention.create_policy(
        project=world["project"],
        data={
            "algorithm": "or",
            "rules": [rule],
            "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
            "scope": {"level": "project", "ref": world["project"].pk},
        },
        actor=Actor(username="admin"),
    )
    for dry_run in (True, False):
        execution = retention.start(policy=policy, dry_run=dry_run, actor=Actor(username="admin"))
        with TestCase.captureOnCommitCallbacks(execute=True):
            runner.run(execution.tasks.get().pk)
    [got] = hook.wait_for(1, timeout=10)
    payload = got.json()
    assert (payload["type"], payload["operator"]) == ("TAG_RETENTION", "MANUAL")
    data = payload["event_data"]["retention"]
    assert {k: data[k] for k in ("total", "retained", "project_name", "result")} == {
        "total": 3,
        "retained": 1,
        "project_name": "hooks",
        "result": "Success",
    }
    assert data["retention_policy_id"] == policy.pk
    assert data["retention_rule"][0]["template"] == "latestPushedK"
    assert data["retention_rule"][0]["params"] == {"latestPushedK": 1}
    assert len(data["deleted_artifact"]) == 2
    assert {d["name_tag"].split(":")[0] for d in data["deleted_artifact"]} == {"app"}
    assert all(d["status"] == "Success" for d in data["deleted_artifact"])
    assert hook.attempts == 1  # the dry run sent nothing


def test_old_executions_are_purged_by_beat_after_the_configured_days(world, receivers):
    import datetime as dt

    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from webhooks.tasks import purge_executions

    beat = PeriodicTask.objects.get(name="harbor: purge webhook executions")
    assert (beat.task, beat.interval.every, beat.enabled) == (
        "webhooks.tasks.purge_executions",
        3600,
        True,
    )
    hook = receivers()
    policy_id = create(world["admin"], body(target(hook.url)))
    for tag in ("v1", "v2", "v3", "v4"):
        push(tags=(tag,))
    hook.wait_for(4, timeout=10)
    old, recent, running, kept = deliveries(policy_id)
    now = timezone.now()
    Execution.objects.filter(pk__in=[old.pk, running.pk]).update(
        end_time=now - dt.timedelta(days=31)
    )
    Execution.objects.filter(pk=running.pk).update(status="Running")
    Execution.objects.filter(pk=kept.pk).update(end_time=now - dt.timedelta(days=29))
    response = world["admin"].put(
        "/api/v2.0/configurations", {"webhook_execution_retention_days": 45}, format="json"
    )
    assert response.status_code == 200, response.content
    assert purge_executions() == 0  # 31 days old is younger than 45
    assert (
        world["admin"]
        .put("/api/v2.0/configurations", {"webhook_execution_retention_days": 30}, format="json")
        .status_code
        == 200
    )
    assert purge_executions() == 1
    answered = world["admin"].get("/api/v2.0/configurations").json()
    assert "webhook_execution_retention_days" not in answered  # not in Harbor's contract
    left = set(Execution.objects.filter(vendor_id=policy_id).values_list("pk", flat=True))
    assert left == {recent.pk, running.pk, kept.pk}  # a running one stays whatever its age
    assert not Task.objects.filter(execution_id=old.pk).exists()
    assert (
        world["admin"]
        .get(f"/api/v2.0/projects/hooks/webhook/policies/{policy_id}/executions/{old.pk}/tasks")
        .status_code
        == 404
    )
    bad = world["admin"].put(
        "/api/v2.0/configurations", {"webhook_execution_retention_days": 0}, format="json"
    )
    assert_harbor_error(bad, 400)


def test_a_finished_replication_into_the_project_is_a_replication_webhook(world, receivers):
    from replication.events import ReplicationFinished
    from replication.models import RegistryEndpoint, ReplicationPolicy

    hook = receivers()
    create(
        world["admin"], body(target(hook.url, payload_format="CloudEvents"), events=["REPLICATION"])
    )
    source = RegistryEndpoint.objects.create(name="up", type="harbor", url="http://127.0.0.1:9")
    pulled = ReplicationPolicy.objects.create(
        name="in", src_registry=source, dest_namespace="hooks"
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        publish(ReplicationFinished(pulled.pk, 41, "Success", 3, 0))
    [got] = hook.wait_for(1, timeout=10)
    event = from_http_event(HTTPMessage(headers=got.headers, body=got.body))
    assert event.get_type() == "harbor.replication.status.changed"
    replication = event.get_data()["replication"]
    assert (replication["job_status"], replication["execution_id"], replication["total"]) == (
        "Success",
        41,
        3,
    )


def test_the_push_path_reads_the_projects_event_types_from_the_cache(world):
    """Five policies cost a push one outbox row and no SELECT of the policies (the event
    types are cached); a policy written, disabled or deleted takes effect at once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from harbor_py.models import EventOutbox

    rows = EventOutbox.objects.filter(consumer__startswith="webhooks:")
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v1",), "alice"))  # fills the cache
    assert rows.count() == 0
    ids = [
        create(world["admin"], body(target(f"http://127.0.0.1:9/{n}"), name=f"h{n}"))
        for n in range(5)
    ]
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v1",), "alice"))  # refills it
    with CaptureQueriesContext(connection) as queries:
        publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v2",), "alice"))
    assert rows.count() == 2  # one row per event, not per policy or target
    sqls = [q["sql"] for q in queries]
    assert [sql for sql in sqls if "notification_" in sql] == []
    assert len([sql for sql in sqls if "event_outbox" in sql]) == 1, sqls  # other consumers'
    for policy_id in ids:
        response = world["admin"].put(
            f"/api/v2.0/projects/hooks/webhook/policies/{policy_id}",
            body(target(f"http://127.0.0.1:9/{policy_id}"), name=f"p{policy_id}", enabled=False),
            format="json",
        )
        assert response.status_code == 200, response.content
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v3",), "alice"))
    assert rows.count() == 2  # every policy disabled: nothing more
    world["admin"].put(
        f"/api/v2.0/projects/hooks/webhook/policies/{ids[0]}",
        body(target("http://127.0.0.1:9/x"), name="back"),
        format="json",
    )
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v4",), "alice"))
    assert rows.count() == 3
    world["admin"].delete(f"/api/v2.0/projects/hooks/webhook/policies/{ids[0]}")
    publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v5",), "alice"))
    assert rows.count() == 3


def test_a_delivery_stays_within_its_statement_budget(world, receivers):
    """The cost of one event to one target, from its publication (other consumers' filters
    included) to the logged answer: the statements (savepoints aside) that it runs. The
    budget is what the last pass left (22, then 19: a separate UPDATE of the execution's
    extra_attrs, a SELECT of the failing mark, a log write per request; then 15: the task's
    SELECT, claim and Running UPDATEs, and its log written apart from its end; then 12: the
    delivery's SELECT of its policy, the execution's end apart from the task's, and the
    target's state apart from them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    hook = receivers()
    create(world["admin"], body(target(hook.url)))
    push()  # fills the caches
    with CaptureQueriesContext(connection) as queries:
        push(tags=("v2",))
    sqls = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(hook.wait_for(2, timeout=10)) == 2
    assert len(sqls) <= 12, "\n".join(s[:120] for s in sqls)


def test_one_event_to_five_policies_writes_its_deliveries_together(world, receivers, monkeypatch):
    """Five policies (the bench's shape): the sequences, executions and tasks of the
    event's five deliveries are one statement each, and no Celery message per target."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jobs import runner

    hooks = [receivers() for _ in range(5)]
    for k, hook in enumerate(hooks):
        create(world["admin"], body(target(hook.url), name=f"hook{k}"))
    push()  # fills the caches
    with CaptureQueriesContext(connection) as queries:
        push(tags=("v2",))
    for hook in hooks:
        assert len(hook.wait_for(2, timeout=10)) == 2
    sqls = [q["sql"] for q in queries]
    # the executions and their tasks in one statement (jobs.writes)
    [written] = [s for s in sqls if 'INSERT INTO "execution"' in s]
    assert 'INSERT INTO "task"' in written
    assert sum('INSERT INTO "task"' in s for s in sqls) == 1
    assert sum(s.startswith("INSERT INTO notification_target_state") for s in sqls) == 1
    # written claimed by this worker (jobs.runner.run_claimed): no SELECT, claim or
    # Running UPDATE per task, and its log goes with its end
    claims = ('SELECT "task"', 'UPDATE "execution" SET "status" = \'Running')
    assert not [s for s in sqls if s.startswith(claims)]
    # each delivery ends its task and its execution, and records its target's success,
    # in one statement
    ends = [s for s in sqls if 'UPDATE "task"' in s]
    assert len(ends) == 5 and all('UPDATE "execution"' in s for s in ends), ends
    assert all("UPDATE notification_target_state" in s for s in ends), ends
    apart = ('UPDATE "execution"', "UPDATE notification_target_state")
    assert not [s for s in sqls if s.startswith(apart)]
    # the policies as the event's transaction read them: no SELECT of them per delivery
    policy_reads = [s for s in sqls if s.startswith("SELECT") and "notification_policy" in s]
    assert len(policy_reads) == 1, policy_reads
    sent: list[tuple] = []
    monkeypatch.setattr(runner.run_task, "apply_async", lambda *a, **k: sent.append(a))
    monkeypatch.setattr(runner.run_tasks, "apply_async", lambda *a, **k: sent.append(a))
    push(tags=("v3",))
    assert sent == []  # the outbox delivery's worker sent them itself
    for hook in hooks:
        assert len(hook.wait_for(3, timeout=10)) == 3


def test_an_events_deliveries_are_written_claimed_by_the_worker_that_sends_them(world, receivers):
    """The outbox delivery writes its executions' tasks Running under its own worker's
    lease (run 1), so that it sends them after its commit without claiming each; a lease
    whose process is gone is requeued by jobs.lease as any other."""
    from jobs import lease
    from jobs.models import Status

    hook = receivers()
    policy_id = create(world["admin"], body(target(hook.url)))
    with TestCase.captureOnCommitCallbacks() as published, transaction.atomic():
        publish(ArtifactPushed("hooks", "hooks/app", DIGEST, ("v1",), "alice"))
    with TestCase.captureOnCommitCallbacks() as sends:
        for callback in published:
            callback()  # the outbox delivery: the executions are written, not sent yet
    task = Task.objects.get(execution__vendor_id=policy_id)
    assert (task.status, task.run_count, task.worker) == (Status.RUNNING, 1, lease.this_worker())
    assert task.execution.status == Status.RUNNING and hook.attempts == 0
    assert task.pk not in lease.orphaned_task_ids()  # a live worker's fresh lease
    for callback in sends:
        callback()
    assert len(hook.wait_for(1, timeout=10)) == 1
    task.refresh_from_db()
    assert task.status == Status.SUCCESS and "response: 200" in task.log
