"""The project's Tag retention tab and the Job service page in a real browser (Debian's
chromium through Playwright) against a whole running instance, in English and 简体中文:
add a rule, dry run it and read what it would delete and keep, see it in the history;
pause a job type's queue and resume it (issue #25)."""

from __future__ import annotations

import time
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
    },
}


def _reload_until(tab, locator, text: str, timeout: float = 120) -> None:
    """The run's page does not refresh itself: reload until `locator` says `text`."""
    deadline = time.monotonic() + timeout
    while locator.inner_text().strip() != text:
        assert time.monotonic() < deadline, f"still {locator.inner_text()!r}"
        time.sleep(0.25)  # a dry run of two tags takes well under a second once picked up
        tab.reload()


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
    page.get_by_role("button", name=words["dry_run"], exact=True).click()
    status = page.locator("#job-status")
    _reload_until(page, status, words["success"])
    tasks = page.locator("#retention-tasks")
    expect(tasks).to_contain_text(f"{project}/app")
    log = tasks.locator("pre.log").first.text_content() or ""
    lines = log.splitlines()
    assert any("DELETE" in x and " old " in x and "retained by no rule" in x for x in lines), log
    assert any("RETAIN" in x and " new " in x and "retained by rule 1" in x for x in lines), log
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
    if language != "en":
        page.locator("#language").select_option("en")
