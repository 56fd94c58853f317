"""GC and replication pages: run, schedule, progress fragments, registries with the
connection test, rules created, run and deleted."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from jobs.models import Execution, Schedule
from replication.models import RegistryEndpoint, ReplicationPolicy

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("page", ["/admin/gc", "/admin/registries", "/admin/replications"])
def test_job_pages_are_for_sysadmins_only(make_user, page):
    assert signed(make_user("alice")).get(page).status_code == 403


def test_gc_run_progress_and_schedule(admin):
    client = signed(admin)
    bad = client.post("/admin/gc", {"run": "1", "workers": 9})
    assert bad.status_code == 400
    response = client.post("/admin/gc", {"run": "1", "dry_run": "on", "workers": 2})
    execution = Execution.objects.get(vendor_type="GARBAGE_COLLECTION")
    assert response["Location"] == f"/admin/gc/{execution.pk}"
    assert execution.parameters == {"dry_run": True, "delete_untagged": False, "workers": 2}
    again = client.post("/admin/gc", {"run": "1", "workers": 1})
    assert "already running" in again.content.decode()
    fragment = client.get(f"/admin/gc/{execution.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and "<html" not in fragment
    client.post(f"/admin/jobs/{execution.pk}/stop")
    execution.refresh_from_db()
    assert execution.status == "Stopped"
    done = client.get(f"/admin/gc/{execution.pk}").content.decode()
    assert "hx-trigger" not in done
    no_cron = client.post("/admin/gc", {"schedule": "1", "type": "Custom", "cron": ""})
    assert "needs a cron expression" in no_cron.content.decode()
    client.post("/admin/gc", {"schedule": "1", "type": "Daily"})
    assert Schedule.objects.get(vendor_type="GARBAGE_COLLECTION").cron == "0 0 0 * * *"


def test_registry_connection_test_and_create(admin):
    client = signed(admin)
    form = {"name": "far", "type": "harbor", "url": "http://127.0.0.1:1", "access_key": "a"}
    failed = client.post("/admin/registries", {**form, "test": "1"})
    assert "Connection failed" in failed.content.decode()
    assert not RegistryEndpoint.objects.exists()
    client.post("/admin/registries", {**form, "access_secret": "s3cret"})
    endpoint = RegistryEndpoint.objects.get(name="far")
    assert endpoint.access_secret == "s3cret"
    dup = client.post("/admin/registries", form)
    assert "The name far is taken." in dup.content.decode()


def test_replication_rule_create_run_delete(admin):
    endpoint = RegistryEndpoint.objects.create(name="far", type="harbor", url="http://127.0.0.1:1")
    client = signed(admin)
    rule = {
        "name": "copy-library",
        "direction": "push",
        "registry": endpoint.pk,
        "name_filter": "library/**",
        "trigger_type": "scheduled",
        "enabled": "on",
        "override": "on",
    }
    refused = client.post("/admin/replications", rule)
    assert "A scheduled trigger needs a cron expression." in refused.content.decode()
    client.post("/admin/replications", {**rule, "trigger_type": "manual"})
    policy = ReplicationPolicy.objects.get(name="copy-library")
    assert policy.dest_registry == endpoint and policy.filters[0]["value"] == "library/**"
    response = client.post(f"/admin/replications/{policy.pk}/run")
    execution = Execution.objects.get(vendor_type="REPLICATION", vendor_id=policy.pk)
    assert response["Location"] == f"/admin/replications/executions/{execution.pk}"
    assert "copy-library" in client.get(response["Location"]).content.decode()
    in_use = client.post(f"/admin/registries/{endpoint.pk}/delete", follow=True)
    assert "Replication rules use the registry far" in in_use.content.decode()
    assert RegistryEndpoint.objects.filter(pk=endpoint.pk).exists()
    busy = client.post(f"/admin/replications/{policy.pk}/delete", follow=True)
    assert "is replicating now: stop it first" in busy.content.decode()
    client.post(f"/admin/jobs/{execution.pk}/stop")
    client.post(f"/admin/replications/{policy.pk}/delete")
    assert not ReplicationPolicy.objects.filter(pk=policy.pk).exists()


def test_gc_progress_bar_shows_the_reported_progress(admin):
    """#28: a determinate bar with the run's percentage once it reports one."""
    client = signed(admin)
    client.post("/admin/gc", {"run": "1", "dry_run": "on", "workers": 1})
    execution = Execution.objects.get(vendor_type="GARBAGE_COLLECTION")
    url = f"/admin/gc/{execution.pk}"
    before = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert '<progress aria-label="Running"></progress>' in before  # no figure yet
    execution.tasks.update(extra_attrs={"progress": 57})
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert '<progress id="job-progress" max="100" value="57"' in fragment
    assert "57 %" in fragment


def test_gc_log_lines_are_translated_in_chinese(admin, django_capture_on_commit_callbacks):
    """#28: the GC's English log lines (as the API serves them) are reworded on the page."""
    client = signed(admin)
    run = {"run": "1", "dry_run": "on", "delete_untagged": "on", "workers": 1}
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/gc", run)
    execution = Execution.objects.get(vendor_type="GARBAGE_COLLECTION")
    raw = "".join(task.log for task in execution.tasks.all())
    assert "GC started" in raw and "GC finished" in raw
    page = client.get(f"/admin/gc/{execution.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN")
    log = re.search(r'<pre class="log"[^>]*>(.*?)</pre>', page.content.decode(), re.S)[1]
    lines = [line.split(" ", 1)[1] for line in log.strip().splitlines()]
    assert len(lines) == len(raw.strip().splitlines()) >= 4
    terms = re.compile(r"\b(?:GC|Tag|Blob|Manifest)\b")  # kept in Chinese, as Harbor's portal
    assert all(not re.search(r"[A-Za-z]{2,}", terms.sub("", line)) for line in lines), lines
    assert any(line.startswith("GC 完成") for line in lines)


def test_gc_log_is_worded_from_its_records_not_its_english(
    admin, django_capture_on_commit_callbacks
):
    """#28: the page words the GC's structured records (event and parameters); the English
    lines are only the API's: reworded lines would still be shown in the page's words."""
    client = signed(admin)
    run = {"run": "1", "dry_run": "on", "delete_untagged": "on", "workers": 1}
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/gc", run)
    execution = Execution.objects.get(vendor_type="GARBAGE_COLLECTION")
    task = execution.tasks.get()
    records = [json.loads(line) for line in task.records.splitlines()]
    assert records[0]["event"] == "gc.started"
    assert records[-1]["event"] == "gc.finished"
    assert records[-1]["params"]["values"]["dry_run"] is True
    assert len(records) == len(task.log.splitlines())
    # the English sentences changed (another version's words): the page does not care
    task.log = "".join(f"{r['time']} something else entirely\n" for r in records)
    task.save(update_fields=["log"])
    page = client.get(f"/admin/gc/{execution.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    log = re.search(r'<pre class="log"[^>]*>(.*?)</pre>', page, re.S)[1]
    assert "something else" not in log
    assert "GC 完成" in log and "模拟运行\uff1a是" in log
