"""The tag retention tab and the job service dashboard in the web UI (issue #25): rules
added, edited in place, disabled and enabled, and deleted with the API's permissions, the
schedule and option, a dry run whose page shows what it would delete and keep and why
(refreshing itself while it runs); the dashboard for sysadmins only, with pause and
resume of queues and schedules, a job's log and its stop."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditLog
from harbor_py.core.actor import Actor
from jobs import queues, runner
from jobs.models import Execution, Status, Task
from projects.roles import Role
from registry.models import Tag
from retention import services as retention_services
from retention.models import RetentionPolicy
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


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


def _rule(template: str, count: int | None, *tags: dict, repositories: tuple = ()) -> dict:
    return {
        "template": template,
        "action": "retain",
        "params": {template: count} if count is not None else {},
        "tag_selectors": list(tags)
        or [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": {
            "repository": list(repositories)
            or [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }


def test_a_rule_is_edited_in_place_with_its_form_prefilled(project, owner):
    """Harbor's Edit: the rule's form filled with its values; saving replaces it at its
    place, keeps it disabled and keeps what the form does not show (an API-made rule's
    further selectors), through the service the API uses (audited)."""
    extra_repository = {"kind": "doublestar", "decoration": "repoExcludes", "pattern": "tmp/**"}
    without = {"kind": "label", "decoration": "withoutLabels", "pattern": "keep,gold"}
    retention_services.create_policy(
        project=project,
        data={
            "rules": [
                {
                    **_rule(
                        "latestPushedK",
                        3,
                        {"kind": "doublestar", "decoration": "excludes", "pattern": "dev-*"},
                        without,
                        {"kind": "label", "decoration": "withLabels", "pattern": "other"},
                        repositories=(
                            {
                                "kind": "doublestar",
                                "decoration": "repoMatches",
                                "pattern": "app/**",
                            },
                            extra_repository,
                        ),
                    ),
                    "disabled": True,
                },
                _rule("always", None),
                _rule("latestPulledN", 2),
            ],
            "trigger": {},
        },
        actor=Actor(username="owner"),
    )
    policy = RetentionPolicy.objects.get(project=project)
    ui = signed(owner)
    tab = ui.get("/projects/shop/retention").content.decode()
    assert 'href="/projects/shop/retention/rules/1/edit"' in tab
    assert "without labels" in tab and "retain the most recently pushed 3 artifacts" in tab

    page = ui.get("/projects/shop/retention/rules/1/edit")
    assert page.status_code == 200
    form = page.context["rule_form"]
    assert {k: form[k].value() for k in form.fields} == {
        "template": "latestPushedK",
        "count": 3,
        "repository_decoration": "repoMatches",
        "repository_pattern": "app/**",
        "tag_decoration": "excludes",
        "tag_pattern": "dev-*",
        "untagged": False,
        "label_decoration": "withoutLabels",
        "labels": "keep,gold",
    }
    html = page.content.decode()
    assert 'id="unshown-selectors"' in html and "tmp/**" in html and "other" in html

    refused = ui.post("/projects/shop/retention/rules/1/edit", rule_form(count=""))
    assert refused.status_code == 400 and "This rule needs a number" in refused.content.decode()
    twin = ui.post(
        "/projects/shop/retention/rules/2/edit", rule_form(template="latestPulledN", count="2")
    )
    assert twin.status_code == 400  # would be the same as rule 3: the service refuses it
    assert "same" in twin.content.decode()
    policy.refresh_from_db()
    assert policy.rules[0]["template"] == "latestPushedK"

    edited = rule_form(
        template="nDaysSinceLastPush",
        count="7",
        repository_pattern="app/**",
        tag_decoration="matches",
        tag_pattern="release-*",
        untagged="on",
        label_decoration="withLabels",
        labels="gold",
    )
    assert ui.post("/projects/shop/retention/rules/1/edit", edited).status_code == 302
    policy.refresh_from_db()
    first, second, _ = policy.rules
    assert (first["id"], first["template"], first["params"]) == (
        1,
        "nDaysSinceLastPush",
        {"nDaysSinceLastPush": 7},
    )
    assert first["disabled"] is True  # still disabled
    assert first["tag_selectors"] == [
        {
            "kind": "doublestar",
            "decoration": "matches",
            "pattern": "release-*",
            "extras": '{"untagged": true}',
        },
        {"kind": "label", "decoration": "withLabels", "pattern": "gold"},
        {"kind": "label", "decoration": "withLabels", "pattern": "other"},  # kept
    ]
    assert first["scope_selectors"]["repository"][1] == extra_repository  # kept
    assert second["template"] == "always"  # untouched
    audited = AuditLog.objects.filter(resource_type="retention_policy", operation="update")
    assert audited.exists()

    assert ui.get("/projects/shop/retention/rules/9/edit").status_code == 404
    zh = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    zh.force_login(owner)
    chinese = zh.get("/projects/shop/retention").content.decode()
    assert "保留最近 7 天内推送的制品" in chinese  # the rule in the page's words
    assert "pushed within" not in chinese and "rule 1 (" not in chinese
    assert "编辑" in chinese  # Edit


def test_only_who_may_update_the_policy_edits_a_rule(project, owner, make_user):
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    guest = make_user("guest")
    project.members.create(user=guest, role=Role.GUEST)  # Harbor's guest: no tag-retention
    dev = signed(guest)
    assert dev.get("/projects/shop/retention/rules/1/edit").status_code == 403
    assert (
        dev.post("/projects/shop/retention/rules/1/edit", rule_form(count="5")).status_code == 403
    )
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(owner)
    assert (
        csrf.post("/projects/shop/retention/rules/1/edit", rule_form(count="5")).status_code == 403
    )
    assert RetentionPolicy.objects.get(project=project).rules[0]["params"] == {"latestPushedK": 1}


@pytest.fixture
def own_pause_flags(monkeypatch):
    monkeypatch.setattr(queues, "PAUSED_KEY", f"pytest-{uuid.uuid4().hex}:jobs:paused")
    yield
    queues._redis().delete(queues.PAUSED_KEY)


def test_the_dashboard_shows_and_toggles_whether_a_schedule_is_paused(
    admin, make_user, project, own_pause_flags
):
    retention_services.create_policy(
        project=project,
        data={"rules": [], "trigger": {"settings": {"cron": "0 30 2 * * 1"}}},
        actor=Actor(username="owner"),
    )
    ui = signed(admin)
    row = _schedule_row(ui.get("/admin/jobservice").content.decode(), "RETENTION")
    assert "Active" in row and 'value="pause"' in row and "0 30 2 * * 1" in row

    paused = ui.post("/admin/jobservice/schedules/RETENTION", {"action": "pause"})
    assert paused.status_code == 302 and paused["Location"].endswith("#job-schedules")
    assert queues.is_paused("RETENTION")
    api = APIClient()
    api.force_authenticate(admin)
    assert api.get("/api/v2.0/schedules/RETENTION/paused").json() == {"paused": True}
    row = _schedule_row(ui.get("/admin/jobservice").content.decode(), "RETENTION")
    assert "Paused" in row and 'value="resume"' in row
    audited = AuditLog.objects.filter(resource_type="jobservice_queue", resource="RETENTION")
    assert [a.description for a in audited.order_by("pk")] == ["pause"]

    assert ui.post("/admin/jobservice/schedules/RETENTION", {"action": "resume"}).status_code == 302
    assert not queues.is_paused("RETENTION")
    assert ui.post("/admin/jobservice/schedules/all", {"action": "pause"}).status_code == 302
    assert api.get("/api/v2.0/schedules/all/paused").json() == {"paused": True}
    assert (
        'value="resume"'
        in ui.get("/admin/jobservice")
        .content.decode()
        .split('id="job-schedules"')[1]
        .split("<table")[0]
    )
    assert ui.post("/admin/jobservice/schedules/all", {"action": "resume"}).status_code == 302
    assert api.get("/api/v2.0/schedules/all/paused").json() == {"paused": False}

    assert ui.post("/admin/jobservice/schedules/RETENTION", {"action": "stop"}).status_code == 400
    upper = ui.post("/admin/jobservice/queues/RETENTION", {"action": "PAUSE"})  # any case
    assert upper.status_code == 302 and queues.is_paused("RETENTION")
    assert ui.post("/admin/jobservice/queues/RETENTION", {"action": "Resume"}).status_code == 302
    assert ui.post("/admin/jobservice/schedules/NOPE", {"action": "pause"}).status_code == 302
    assert not queues.paused_types()
    user = signed(make_user())
    assert (
        user.post("/admin/jobservice/schedules/RETENTION", {"action": "pause"}).status_code == 403
    )
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(admin)
    assert (
        csrf.post("/admin/jobservice/schedules/RETENTION", {"action": "pause"}).status_code == 403
    )
    assert not queues.is_paused("RETENTION")


def _schedule_row(page: str, job_type: str) -> str:
    table = page.split('<table id="schedules">')[1].split("</table>")[0]
    rows = [r for r in table.split("<tr>") if f"<td>{job_type}</td>" in r]
    assert len(rows) == 1, table
    return rows[0]


def test_a_job_shows_its_log_and_stops_from_the_dashboard(admin, monkeypatch, own_pause_flags):
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", status=Status.RUNNING)
    task = Task.objects.create(execution=execution, status=Status.RUNNING, log="marking\n")
    beat = {"id": "harbor-a@h:7", "pool_id": "harbor-a@h", "job_name": "celery.backend_cleanup"}
    ours = {"id": "harbor-a@h:8", "pool_id": "harbor-a@h", "job_name": "GARBAGE_COLLECTION"}
    found = [
        {**beat, "job_id": "1f0c0b8e-0000-4000-8000-000000000000", "start_at": None},
        {**ours, "job_id": str(task.pk), "start_at": None},
    ]
    monkeypatch.setattr(queues, "pools", lambda: [])
    monkeypatch.setattr(queues, "workers", lambda pool: found)
    ui = signed(admin)
    workers = ui.get("/admin/jobservice/workers", HTTP_HX_REQUEST="true")
    assert workers.status_code == 200  # another Celery task's uuid: no Stop, no log link
    html = workers.content.decode()
    assert f'href="/admin/jobservice/jobs/{task.pk}/log"' in html
    assert html.count("/stop") == 1

    log = ui.get(f"/admin/jobservice/jobs/{task.pk}/log")
    assert log.status_code == 200 and "marking" in log.content.decode()
    stopped = ui.post(f"/admin/jobservice/jobs/{task.pk}/stop", {"next": "log"})
    assert stopped["Location"] == f"/admin/jobservice/jobs/{task.pk}/log"
    execution.refresh_from_db()
    assert execution.stop_requested
    assert ui.get("/admin/jobservice/jobs/999999/log").status_code == 404


def test_a_running_retention_run_refreshes_its_panel(project, owner):
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    image(project, "web", "v1")
    started = ui.post("/projects/shop/retention/run", {"dry_run": "true"})
    page = ui.get(started["Location"]).content.decode()
    assert 'hx-trigger="every 2s"' in page  # Pending: the panel asks again
    panel = ui.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert panel.startswith('\n<div id="job-panel"') or '<div id="job-panel"' in panel[:200]
    assert "<html" not in panel
    execution = Execution.objects.get(vendor_type="RETENTION")
    runner.run(execution.tasks.get().pk)
    done = ui.get(started["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in done and "shop/web" in done


@pytest.mark.parametrize("untag_only", [False, True])
def test_a_runs_page_says_what_was_deleted_and_kept_and_why_in_chinese(
    distribution, project, owner, untag_only
):
    """The run's logs in the page's language, from the records the run keeps beside its
    English lines (which the API serves as they were)."""
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    if untag_only:
        ui.post("/projects/shop/retention/settings", {"cron": "", "untag_only": "on"})
    older = image(project, "web", "v1")
    image(project, "web", "v2")
    if untag_only:  # v1 goes, its artifact stays for its other tag, which rule 2 keeps
        Tag.objects.create(repository=older.repository, artifact=older, name="keep")
        ui.post("/projects/shop/retention/rules", rule_form(template="always", tag_pattern="keep"))
    started = ui.post("/projects/shop/retention/run", {"dry_run": "false"})
    execution = Execution.objects.get(vendor_type="RETENTION")
    runner.run(execution.tasks.get().pk)
    zh = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    zh.force_login(owner)
    page = zh.get(started["Location"]).content.decode()
    assert "由规则 1 保留" in page and "保留最近推送的 1 个制品" in page  # by rule 1 (...)
    assert "shop/web" in page
    if untag_only:
        assert "移除 sha256:" in page and "的标签 v1" in page  # v1 to be removed
        assert "已移除标签 v1" in page and "keep\uff1a由规则" in page  # removed; keep kept
    else:
        assert "已删除 sha256:" in page  # deleted
    assert "1 个仓库" in page  # the summary
    for english in ("retained by", "RETAIN", "DELETE", "deleted sha256", "repositories,"):
        assert english not in page, english
    task = execution.tasks.exclude(extra_attrs__kind="controller").get()
    assert "retained by rule 1" in task.log  # the API's log stays English


def test_run_now_asks_first_and_a_dry_run_does_not(project, owner):
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    tab = ui.get("/projects/shop/retention").content.decode()
    assert 'href="/projects/shop/retention/run"' in tab  # Run now: a link to its question
    asked = ui.get("/projects/shop/retention/run")
    assert (
        asked.status_code == 200 and "Run the tag retention of shop now?" in asked.content.decode()
    )
    assert not Execution.objects.filter(vendor_type="RETENTION").exists()
    confirmed = ui.post("/projects/shop/retention/run")  # the confirmation's POST
    execution = Execution.objects.get(vendor_type="RETENTION")
    assert confirmed["Location"].endswith(f"/retention/runs/{execution.pk}")
    assert execution.parameters["dry_run"] is False


def test_the_schedule_is_none_hourly_daily_weekly_or_custom(project, owner):
    """Harbor's schedule choices, as the GC's: a preset's cron, or a typed one."""
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    policy = RetentionPolicy.objects.get(project=project)

    def saved(**data: str) -> str:
        assert ui.post("/projects/shop/retention/settings", data).status_code == 302
        policy.refresh_from_db()
        return policy.trigger["settings"]["cron"]

    assert saved(type="Weekly", cron="ignored") == "0 0 0 * * 0"
    form = ui.get("/projects/shop/retention").context["settings_form"]
    assert (form["type"].value(), form["cron"].value()) == ("Weekly", "")
    assert saved(type="Custom", cron="0 30 2 * * 1") == "0 30 2 * * 1"
    form = ui.get("/projects/shop/retention").context["settings_form"]
    assert (form["type"].value(), form["cron"].value()) == ("Custom", "0 30 2 * * 1")
    assert saved(type="None", cron="0 30 2 * * 1") == ""
    assert saved(type="Hourly") == "0 0 * * * *"
    missing = ui.post("/projects/shop/retention/settings", {"type": "Custom", "cron": ""})
    assert missing.status_code == 400
    assert ui.post("/projects/shop/retention/settings", {"type": "Yearly"}).status_code == 400
    policy.refresh_from_db()
    assert policy.trigger["settings"]["cron"] == "0 0 * * * *"


def test_the_history_has_pages(project, owner):
    ui = signed(owner)
    assert ui.post("/projects/shop/retention/rules", rule_form()).status_code == 302
    policy = RetentionPolicy.objects.get(project=project)
    for _ in range(17):
        Execution.objects.create(vendor_type="RETENTION", vendor_id=policy.pk, status="Success")
    first = ui.get("/projects/shop/retention").content.decode()
    table = first.split('<table id="retention-runs">')[1].split("</table>")[0]
    assert table.count("/retention/runs/") == 15 and 'rel="next"' in first
    second = ui.get("/projects/shop/retention?page=2").content.decode()
    table = second.split('<table id="retention-runs">')[1].split("</table>")[0]
    assert table.count("/retention/runs/") == 2
