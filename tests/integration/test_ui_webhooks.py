"""The project's Webhooks tab (#26): a project admin creates a policy with two targets,
sees its targets and deliveries, sends a test event that a receiver on loopback gets,
disables and deletes it; a maintainer sees the tab without the form; a developer has no
tab; the page in 简体中文."""

from __future__ import annotations

import pytest
from django.test import TestCase

from jobs.models import Execution
from projects.roles import Role
from tests.integration.test_ui_quotas_immutability import signed
from tests.webhook_receiver import Receiver
from webhooks.models import TargetState, WebhookPolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def form(*addresses: str, **extra: str) -> dict:
    return {
        "name": "ci",
        "addresses": "\n".join(addresses),
        "kind": "http:CloudEvents",
        "event_types": ["PUSH_ARTIFACT", "DELETE_ARTIFACT"],
        "signing_secret": "s3",
        **extra,
    }


def test_an_admin_manages_webhooks_on_the_tab(make_user, make_project, receiver):
    alice = make_user("alice")
    make_project("web", owner=alice)
    client = signed(alice)
    page = client.get("/projects/web/webhooks")
    assert page.status_code == 200 and b"New webhook" in page.content
    created = client.post("/projects/web/webhooks", form(receiver.url, receiver.url + "/2"))
    assert created.status_code == 302, created.content[:2000]
    policy = WebhookPolicy.objects.get(name="ci")
    assert [t["payload_format"] for t in policy.targets] == ["CloudEvents", "CloudEvents"]
    assert policy.targets[0]["signing_secret"].startswith("enc:v1:")
    body = client.get("/projects/web/webhooks").content.decode()
    assert receiver.url in body and "PUSH_ARTIFACT, DELETE_ARTIFACT" in body
    assert "No delivery yet." in body

    with TestCase.captureOnCommitCallbacks(execute=True):  # the test's transaction never commits
        sent = client.post(f"/projects/web/webhooks/{policy.pk}/test")
    assert sent.status_code == 302
    receiver.wait_for(2, timeout=10)
    assert {r.headers["X-Harbor-Signature-256"][:7] for r in receiver.received} == {"sha256="}
    run = Execution.objects.filter(vendor_id=policy.pk).first()
    body = client.get("/projects/web/webhooks").content.decode()
    assert f"/projects/web/webhooks/{policy.pk}/deliveries/{run.pk}" in body
    log = client.get(f"/projects/web/webhooks/{policy.pk}/deliveries/{run.pk}")
    assert b"response: 200" in log.content

    TargetState.objects.filter(address=receiver.url).update(failing=True, consecutive_failures=7)
    body = client.get("/projects/web/webhooks").content.decode()
    assert "Failing" in body and "7 failed deliveries in a row" in body

    client.post(f"/projects/web/webhooks/{policy.pk}/toggle")
    policy.refresh_from_db()
    assert policy.enabled is False
    assert policy.targets[0]["signing_secret"]  # kept by the toggle
    assert client.get(f"/projects/web/webhooks/{policy.pk}/delete").status_code == 200
    client.post(f"/projects/web/webhooks/{policy.pk}/delete")
    assert not WebhookPolicy.objects.filter(pk=policy.pk).exists()


def test_a_refused_target_is_shown_on_the_form(make_user, make_project, settings):
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = True
    alice = make_user("alice")
    make_project("web", owner=alice)
    page = signed(alice).post("/projects/web/webhooks", form("http://127.0.0.1:9/"))
    assert page.status_code == 400 and b"private" in page.content
    assert not WebhookPolicy.objects.exists()


def test_maintainers_read_developers_see_no_tab(make_user, make_project):
    maintainer, developer = make_user("m"), make_user("d")
    make_project("web", members={maintainer: Role.MAINTAINER, developer: Role.DEVELOPER})
    page = signed(maintainer).get("/projects/web/webhooks")
    assert page.status_code == 200 and b"New webhook" not in page.content
    refused = signed(maintainer).post("/projects/web/webhooks", form("http://x.test/"))
    assert refused.status_code in (403, 404)
    assert b"/projects/web/webhooks" not in signed(developer).get("/projects/web").content
    assert signed(developer).get("/projects/web/webhooks").status_code in (403, 404)


def test_the_tab_in_chinese(make_user, make_project):
    alice = make_user("alice")
    make_project("web", owner=alice)
    client = signed(alice)
    client.cookies["django_language"] = "zh-hans"
    body = client.get("/projects/web/webhooks", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "新建 Webhook" in body and "通知类型与格式" in body
