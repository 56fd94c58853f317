"""The tag retention tab and the job service dashboard in the web UI (issue #25): rules
added, disabled and enabled, and deleted with the API's permissions, the schedule and
option, a dry run whose page shows what it would delete and keep and why; the dashboard
for sysadmins only, with pause and resume."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from jobs import queues, runner
from jobs.models import Execution
from projects.roles import Role
from retention.models import RetentionPolicy
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rule_form(**extra: str) -> dict:
    return {
        "template": "latestPushedK",
        "count": "1",
        "repository_decoration": "repoMatches",
        "repository_pattern": "**",
        "tag_decoration": "matches",
        "tag_pattern": "**",
        "labels": "",
        **extra,
    }


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def project(make_project, owner):
    return make_project("shop", owner=owner)


def test_a_project_admin_adds_rules_and_a_dry_run_shows_why(project, owner):
    ui = signed(owner)
    tab = ui.get("/projects/shop/retention")
    assert tab.status_code == 200
    assert "No retention rules" in tab.content.decode()
    refused = ui.post("/projects/shop/retention/rules", rule_form(count=""))
    assert refused.status_code == 400 and not RetentionPolicy.objects.exists()
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    policy = RetentionPolicy.objects.get(project=project)
    assert policy.rules[0]["params"] == {"latestPushedK": 1}
    project.refresh_from_db()
    assert project.metadata["retention_id"] == str(policy.pk)
    saved = ui.post(
        "/projects/shop/retention/settings", {"cron": "0 0 0 * * *", "untag_only": "on"}
    )
    assert saved.status_code == 302
    policy.refresh_from_db()
    assert policy.untag_only and policy.trigger["settings"]["cron"] == "0 0 0 * * *"
    bad_cron = ui.post("/projects/shop/retention/settings", {"cron": "every day"})
    assert bad_cron.status_code == 400

    image(project, "web", "v1")
    image(project, "web", "v2")
    started = ui.post("/projects/shop/retention/run", {"dry_run": "true"})
    assert started.status_code == 302
    execution = Execution.objects.get(vendor_type="RETENTION")
    runner.run(execution.tasks.get().pk)
    page = ui.get(started["Location"]).content.decode()
    assert "shop/web" in page and "no rule retains" in page and "retained by rule 1" in page
    history = ui.get("/projects/shop/retention").content.decode()
    assert f"#{execution.pk}" in history

    assert ui.post("/projects/shop/retention/rules/1/toggle").status_code == 302
    policy.refresh_from_db()
    assert policy.rules[0]["disabled"] is True  # Harbor's Disable: a run skips it
    assert "Enable" in ui.get("/projects/shop/retention").content.decode()
    assert ui.post("/projects/shop/retention/rules/1/toggle").status_code == 302
    policy.refresh_from_db()
    assert policy.rules[0]["disabled"] is False
    assert ui.post("/projects/shop/retention/rules/9/toggle").status_code == 404

    confirm = ui.get("/projects/shop/retention/rules/1/delete")
    assert confirm.status_code == 200 and policy.rules  # asks first
    assert ui.post("/projects/shop/retention/rules/1/delete").status_code == 302
    policy.refresh_from_db()
    assert policy.rules == []


def test_a_guest_sees_no_retention_and_may_not_change_it(project, make_user):
    guest = make_user("guest")
    project.members.create(user=guest, role=Role.GUEST)
    ui = signed(guest)
    assert ui.get("/projects/shop/retention").status_code == 403
    assert "/projects/shop/retention" not in ui.get("/projects/shop").content.decode()
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 403
    assert signed(make_user("stranger")).get("/projects/shop/retention").status_code == 404


def test_the_job_service_dashboard_pauses_and_resumes(admin, make_user, monkeypatch):
    monkeypatch.setattr(queues, "PAUSED_KEY", f"pytest-{uuid.uuid4().hex}:jobs:paused")
    monkeypatch.setattr(
        queues, "_inspect", lambda: type("I", (), {"stats": lambda s: {}, "active": lambda s: {}})()
    )
    ui = signed(admin)
    page = ui.get("/admin/jobservice")
    assert page.status_code == 200
    assert "RETENTION" in page.content.decode()
    assert 'hx-get="/admin/jobservice/workers"' in page.content.decode()  # asked afterwards
    workers = ui.get("/admin/jobservice/workers", HTTP_HX_REQUEST="true").content.decode()
    assert "No worker answered" in workers and "<html" not in workers
    assert "No worker answered" in ui.get("/admin/jobservice?workers=1").content.decode()
    assert ui.post("/admin/jobservice/queues/RETENTION", {"action": "pause"}).status_code == 302
    assert queues.is_paused("RETENTION")
    assert ui.post("/admin/jobservice/queues/RETENTION", {"action": "resume"}).status_code == 302
    assert not queues.is_paused("RETENTION")
    assert signed(make_user()).get("/admin/jobservice").status_code == 403
