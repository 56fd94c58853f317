"""The project's Tag retention tab and the Job service page in a real browser (Debian's
chromium through Playwright) against a whole running instance, in English and 简体中文:
add a rule, dry run it (its page follows the run by itself) and read what it would delete
and keep, see it in the history, edit the rule in place; pause a job type's queue and
resume it, pause and resume its schedule (issue #25)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.e2e.test_ui_browser import in_english, page  # noqa: F401  (the browser fixture)
from tests.imagegen import make_image
from tests.stack import Instance, skopeo

playwright_api = pytest.importorskip("playwright.sync_api")
ADMIN = ("admin", "Harbor12345")

# What the test reads and clicks, per language (the zh_Hans catalogue's words).
WORDS = {
    "en": {
        "tab": "Tag retention",
        "rules": "Tag retention rules",
        "rule": "Rule",
        "count": "Number (#)",
        "add": "Add rule",
        "dry_run": "Dry run",
        "history": "History",
        "success": "Success",
        "jobs": "Job service",
        "pause": "Pause",
        "resume": "Resume",
        "paused": "Paused",
        "running": "Running",
        "edit": "Edit",
        "save": "Save",
        "active": "Active",
        "edited_rule": "retain the most recently pushed 2 artifacts",
        "delete": ("Delete sha256:", "retained by no rule"),
        "retain": ("Retain sha256:", "retained by rule 1"),
    },
    "zh-hans": {
        "tab": "Tag 保留",
        "rules": "标签保留规则",
        "rule": "规则",
        "count": "数量 (#)",
        "add": "添加规则",
        "dry_run": "模拟运行",
        "history": "历史记录",
        "success": "成功",
        "jobs": "任务服务",
        "pause": "暂停",
        "resume": "恢复",
        "paused": "已暂停",
        "running": "运行中",
        "edit": "编辑",
        "save": "保存",
        "active": "活动",
        "edited_rule": "保留最近推送的 2 个制品",
        "delete": ("删除 sha256:", "没有规则保留它"),
        "retain": ("保留 sha256:", "由规则 1 保留"),
    },
}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_retention_tab_and_job_service_page(stack: Instance, page, tmp_path: Path, language):  # noqa: F811
    expect = playwright_api.expect
    words = WORDS[language]
    project = f"ret-{language[:2]}-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    image = make_image(tmp_path / "img", layer_sizes=[2_000])
    other = make_image(tmp_path / "other", layer_sizes=[3_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:old", creds=ADMIN)
    skopeo("copy", other.ref, f"docker://{stack.host}/{project}/app:new", creds=ADMIN)
    in_english(page, stack)
    if language != "en":
        page.locator("#language").select_option(language)
        expect(page.locator("html")).to_have_attribute("lang", language)  # after the reload

    # The project's tab: add "retain the most recently pushed 1", dry run it.
    page.goto(f"/projects/{project}/")
    page.get_by_role("link", name=words["tab"], exact=True).first.click()
    expect(page.get_by_role("heading", name=words["rules"])).to_be_visible()
    expect(page.locator("label[for=id_template]")).to_contain_text(words["rule"])
    expect(page.locator("label[for=id_count]")).to_contain_text(words["count"])
    page.locator("#id_template").select_option("latestPushedK")
    page.locator("#id_count").fill("1")
    page.get_by_role("button", name=words["add"]).click()
    rules = page.locator("#retention-rule-table tbody tr")
    expect(rules).to_have_count(1)
    cron = "0 0 3 * * *" if language == "en" else "0 0 4 * * *"  # a row per language
    page.locator("#id_type").select_option("Custom")  # the cron field shows for Custom
    page.locator("#id_cron").fill(cron)  # a schedule, for the job service below
    page.locator("form[action$='/retention/settings'] button[type=submit]").click()
    page.get_by_role("button", name=words["dry_run"], exact=True).click()
    # the run's page follows the run by itself (htmx), no reload
    expect(page.locator("#job-status")).to_have_text(words["success"], timeout=120_000)
    tasks = page.locator("#retention-tasks")
    expect(tasks).to_contain_text(f"{project}/app")
    log = tasks.locator("pre.log").first.text_content() or ""
    lines = log.splitlines()
    # in the page's language (the run's records), the tag in brackets
    deleting, retaining = words["delete"], words["retain"]
    assert any(all(w in x for w in deleting) and "old" in x for x in lines), log
    assert any(all(w in x for w in retaining) and "new" in x for x in lines), log
    # Nothing was deleted: both tags are still there.
    tags = skopeo("list-tags", f"docker://{stack.host}/{project}/app", creds=ADMIN).stdout
    assert '"old"' in tags and '"new"' in tags

    # The history lists the dry run.
    page.get_by_role("link", name=words["tab"], exact=True).first.click()
    expect(page.get_by_role("heading", name=words["history"])).to_be_visible()
    history = page.locator("#retention-runs tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_contain_text(words["dry_run"])
    expect(history.first).to_contain_text(words["success"])

    # Edit the rule in place: its form comes filled in; the row says the new number.
    rules.first.get_by_role("link", name=words["edit"], exact=True).click()
    expect(page.locator("#id_template")).to_have_value("latestPushedK")
    expect(page.locator("#id_count")).to_have_value("1")
    page.locator("#id_count").fill("2")
    page.get_by_role("button", name=words["save"], exact=True).click()
    expect(rules).to_have_count(1)
    expect(rules.first).to_contain_text(words["edited_rule"])
    policy = stack.client().get(f"/api/v2.0/projects/{project}").json()["metadata"]["retention_id"]
    saved = stack.client().get(f"/api/v2.0/retentions/{policy}").json()["rules"]
    assert [r["params"] for r in saved] == [{"latestPushedK": 2}]

    # The job service page: pause the retention queue, then resume it.
    page.goto("/admin/jobservice")
    expect(page.get_by_role("heading", name=words["jobs"], exact=True)).to_be_visible()
    row = page.locator("#queues tbody tr", has_text="RETENTION")
    row.get_by_role("button", name=words["pause"], exact=True).click()
    row = page.locator("#queues tbody tr", has_text="RETENTION")
    expect(row).to_contain_text(words["paused"])
    queues = stack.client().get("/api/v2.0/jobservice/queues").json()
    assert {q["job_type"]: q["paused"] for q in queues}["RETENTION"] is True
    row.get_by_role("button", name=words["resume"], exact=True).click()
    row = page.locator("#queues tbody tr", has_text="RETENTION")
    expect(row).to_contain_text(words["running"])
    queues = stack.client().get("/api/v2.0/jobservice/queues").json()
    assert {q["job_type"]: q["paused"] for q in queues}["RETENTION"] is False

    # Its schedule: shown as active, paused (what /schedules/{job_type}/paused says), resumed.
    schedule = page.locator("#schedules tbody tr", has_text="RETENTION").filter(has_text=cron)
    expect(schedule).to_contain_text(words["active"])
    schedule.get_by_role("button", name=words["pause"], exact=True).click()
    schedule = page.locator("#schedules tbody tr", has_text="RETENTION").filter(has_text=cron)
    expect(schedule).to_contain_text(words["paused"])
    paused = stack.client().get("/api/v2.0/schedules/RETENTION/paused").json()
    assert paused == {"paused": True}
    schedule.get_by_role("button", name=words["resume"], exact=True).click()
    schedule = page.locator("#schedules tbody tr", has_text="RETENTION").filter(has_text=cron)
    expect(schedule).to_contain_text(words["active"])
    assert stack.client().get("/api/v2.0/schedules/RETENTION/paused").json() == {"paused": False}
    if language != "en":
        page.locator("#language").select_option("en")
