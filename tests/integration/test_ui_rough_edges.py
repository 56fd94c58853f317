"""Defects of #28 that the test client can see: the UI's 404 page, registry and rule
edits, the secret kept by "Test connection", refusals next to their field and in the
page's language, immutable deletes refused before the confirmation, sizes, empty states,
sign-in focus, htmx from its npm package."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from immutable.models import ImmutableRule
from replication.models import RegistryEndpoint, ReplicationPolicy
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_unknown_ui_url_is_a_page_and_the_api_keeps_its_json(admin):
    client = signed(admin)
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert "There is no page at this address." in page.content.decode()
    assert 'href="/"' in page.content.decode()  # a way back
    chinese = client.get("/no/such/page", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "此地址没有页面。" in chinese.content.decode()
    api = client.get("/api/v2.0/no-such-thing")
    assert api.status_code == 404 and api.json()["errors"][0]["code"] == "NOT_FOUND"


def test_repository_help_keeps_its_tag_placeholder(make_user, make_project):
    owner = make_user("owner")
    project = make_project("team", owner=owner)
    image(project, "app", "v1")
    for language, text in (("en", "Replace &lt;tag&gt; by"), ("zh-CN", "将 &lt;tag&gt; 替换")):
        body = signed(owner).get("/projects/team/repositories/app/", HTTP_ACCEPT_LANGUAGE=language)
        assert text in body.content.decode()


def test_registry_test_keeps_the_secret_and_edit_keeps_the_stored_one(admin):
    client = signed(admin)
    form = {"name": "far", "type": "harbor", "url": "http://127.0.0.1:1", "access_key": "a"}
    tested = client.post("/admin/registries", {**form, "access_secret": "s3cret", "test": "1"})
    assert 'name="access_secret" value="s3cret"' in tested.content.decode()
    client.post("/admin/registries", {**form, "access_secret": "s3cret"})
    endpoint = RegistryEndpoint.objects.get(name="far")
    assert endpoint.status == "unhealthy"  # pinged at creation, not left "unknown"
    listing = client.get("/admin/registries").content.decode()
    assert f'href="/admin/registries/{endpoint.pk}/edit"' in listing
    edit = client.get(f"/admin/registries/{endpoint.pk}/edit").content.decode()
    assert 'value="http://127.0.0.1:1"' in edit and "s3cret" not in edit
    client.post(f"/admin/registries/{endpoint.pk}/edit", {**form, "description": "moved"})
    endpoint.refresh_from_db()
    assert endpoint.description == "moved" and endpoint.access_secret == "s3cret"


def test_replication_rule_edit_and_cron_error_next_to_its_field(admin):
    endpoint = RegistryEndpoint.objects.create(name="far", type="harbor", url="http://127.0.0.1:1")
    client = signed(admin)
    rule = {"name": "copy", "direction": "push", "registry": endpoint.pk, "trigger_type": "manual"}
    client.post("/admin/replications", {**rule, "name_filter": "library/**", "enabled": "on"})
    policy = ReplicationPolicy.objects.get(name="copy")
    edit = client.get(f"/admin/replications/{policy.pk}/edit").content.decode()
    assert 'value="library/**"' in edit
    scheduled = client.post(
        f"/admin/replications/{policy.pk}/edit", {**rule, "trigger_type": "scheduled"}
    )
    body = scheduled.content.decode()
    assert scheduled.status_code == 400 and "trigger_settings" not in body
    # The refusal sits with the cron field, not at the top of the form.
    cron_field = re.search(r'<div[^>]*>\s*<label for="id_cron".*?</div>', body, re.S)
    assert cron_field and "A scheduled trigger needs a cron expression." in cron_field[0]
    client.post(
        f"/admin/replications/{policy.pk}/edit",
        {**rule, "trigger_type": "scheduled", "cron": "0 0 * * * *", "enabled": "on"},
    )
    policy.refresh_from_db()
    assert policy.trigger_type == "scheduled" and policy.cron == "0 0 * * * *"
    chinese = client.post(
        "/admin/replications",
        {**rule, "name": "x", "trigger_type": "scheduled"},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert "定时触发需要填写 cron 表达式。" in chinese.content.decode()


def test_immutable_tag_delete_is_refused_before_the_confirmation(make_user, make_project):
    owner = make_user("owner")
    project = make_project("team", owner=owner)
    artifact = image(project, "app", "v1")
    ImmutableRule.objects.create(
        project=project,
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        scope_selectors={
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    )
    base = f"/projects/team/repositories/app/-/artifacts/{artifact.digest}"
    client = signed(owner)
    page = client.get(base).content.decode()
    assert f'href="{base}/tags/v1/delete"' not in page and f'href="{base}/delete"' not in page
    assert "disabled" in page and "Immutable tags cannot be deleted" in page
    for doomed in (f"{base}/tags/v1/delete", f"{base}/delete"):
        asked = client.get(doomed)
        assert asked.status_code == 412 and "team/app:v1 is immutable" in asked.content.decode()


def test_sizes_in_binary_units_and_unlimited(admin, make_project):
    from frontend.templatetags.ui import size

    assert size(10 * 1024**3) == "10\xa0GiB" and size(1536) == "1.5\xa0KiB"
    assert size(-1) == "unlimited" and size(0) == "0\xa0B"
    make_project("team")
    client = signed(admin)
    client.post("/projects/team/quota", {"hard_0": "", "hard_1": "unlimited"})
    shown = client.get("/projects/team/configuration").content.decode()
    assert "used of an unlimited quota" in shown and '"unlimited" selected' in shown
    assert not re.search(r'name="hard_0"[^>]*value="-1"', shown)  # not "-1 GiB"


def test_one_empty_state_and_counted_words(make_user, make_project):
    owner = make_user("owner")
    make_project("team", owner=owner)
    robots = signed(owner).get("/projects/team/robots").content.decode()
    assert "No robot accounts yet." in robots and "Nothing here yet." not in robots


def test_sign_in_focus_and_autocomplete():
    first = Client().get("/account/sign-in").content.decode()
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*autofocus', first)
    assert 'autocomplete="current-password"' in first
    failed = Client().post("/account/sign-in", {"principal": "nobody", "password": "x"})
    body = failed.content.decode()
    assert re.search(r'<input[^>]*type="password"[^>]*autofocus', body)
    assert not re.search(r'<input[^>]*autocomplete="username"[^>]*autofocus', body)
    assert 'rel="icon"' in body


def test_confirmation_focuses_cancel(make_user, make_project):
    owner = make_user("owner")
    make_project("team", owner=owner)
    page = signed(owner).get("/projects/team/delete").content.decode()
    assert re.search(r'<a class="btn secondary" href="[^"]*" autofocus>Cancel', page)
    assert not re.search(r'<button[^>]*class="danger"[^>]*autofocus', page)


def test_htmx_comes_from_its_npm_package_not_a_committed_copy():
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/htmx.org"]["version"]
    assert json.loads((ROOT / "frontend" / "package.json").read_text())["dependencies"] == {
        "htmx.org": pinned
    }
    assert not list((ROOT / "frontend" / "static").rglob("htmx*"))
    found = finders.find("vendor/htmx.org/htmx.min.js")
    assert found and "node_modules/htmx.org/dist" in found
    installed = json.loads((ROOT / "frontend/node_modules/htmx.org/package.json").read_text())
    assert installed["version"] == pinned


def test_project_summary_and_push_commands(make_user, make_project):
    owner, guest = make_user("owner"), make_user("visitor")
    project = make_project("team", owner=owner, members={guest: 3})
    client = signed(owner)
    empty = client.get("/projects/team/repositories").content.decode()
    assert "Push commands" in empty  # an empty project says how to fill it
    for tool in ("docker push", "podman push", "helm push", "oras push", "skopeo copy"):
        assert tool in empty
    assert "oci://testserver/team" in empty or "oci://" in empty
    image(project, "app", "v1")
    summary = client.get("/projects/team/")
    body = summary.content.decode()
    assert summary.status_code == 200 and 'aria-current="page">Summary' in body
    assert '<b id="summary-repositories">1</b>' in body
    assert "Members by role" in body and "<dt>Guest</dt><dd>1</dd>" in body
    assert "docker tag SOURCE_IMAGE[:TAG]" in body
    seen_by_guest = signed(guest).get("/projects/team/").content.decode()
    assert "Push commands" not in seen_by_guest  # a guest may not push
    assert "Members by role" in seen_by_guest  # guests list members, as the API


def test_labels_attached_removed_and_used_as_filter(make_user, make_project):
    from registry.models import ArtifactLabel, Label

    owner = make_user("owner")
    project = make_project("team", owner=owner)
    other = make_project("other")
    first, second = image(project, "app", "v1"), image(project, "app", "v2")
    mine = Label.objects.create(name="release", scope="p", project=project)
    shared = Label.objects.create(name="approved", scope="g")
    foreign = Label.objects.create(name="theirs", scope="p", project=other)
    client = signed(owner)
    base = f"/projects/team/repositories/app/-/artifacts/{first.digest}"
    page = client.get(base).content.decode()
    assert f'<option value="{mine.pk}">release</option>' in page
    assert "approved (global)" in page and "theirs" not in page
    client.post(f"{base}/labels", {"label": mine.pk})
    client.post(f"{base}/labels", {"label": shared.pk})
    refused = client.post(f"{base}/labels", {"label": foreign.pk}, follow=True)
    assert "Choose a label of this project or a global one." in refused.content.decode()
    assert set(
        ArtifactLabel.objects.filter(artifact=first).values_list("label__name", flat=True)
    ) == {
        "release",
        "approved",
    }
    listing = client.get(f"/projects/team/repositories/app/?label={mine.pk}").content.decode()
    assert first.digest[:19] in listing and second.digest[:19] not in listing
    client.post(f"{base}/labels/{mine.pk}/remove")
    assert not ArtifactLabel.objects.filter(artifact=first, label=mine).exists()
    listing = client.get(f"/projects/team/repositories/app/?label={mine.pk}").content.decode()
    assert first.digest[:19] not in listing


def test_gc_dry_run_says_what_it_would_free(admin):
    from jobs.models import Execution

    run = Execution.objects.create(
        vendor_type="GARBAGE_COLLECTION",
        status="Success",
        trigger="MANUAL",
        parameters={"dry_run": True, "delete_untagged": False, "workers": 1},
        extra_attrs={"freed_space": 0, "purged_blobs": 0, "purged_manifests": 0},
    )
    body = signed(admin).get(f"/admin/gc/{run.pk}").content.decode()
    assert "Would free" in body and "Blobs it would delete" in body
    blobs = re.search(r"Blobs it would delete</th><td>([^<]*)</td>", body)
    assert blobs and blobs[1] == "0"  # zero, not "—"
    history = signed(admin).get("/admin/gc").content.decode()
    assert "would free" in history


def test_gc_log_lines_are_not_python_dicts():
    from harbor_gc.collector import _readable

    line = _readable({"dry_run": True, "workers": 2})
    assert line == "dry run: true, workers: 2" and "{" not in line


def test_global_search_quota_overview_and_global_labels(admin, make_user, make_project):
    from quotas.models import Quota
    from registry.models import Label

    outsider = make_user("outsider")
    seen = make_project("alpha-web", members={outsider: 3})
    hidden = make_project("alpha-secret")
    image(seen, "webapp", "v1")
    image(hidden, "webapp", "v1")
    found = signed(outsider).get("/search?q=alpha").content.decode()
    assert "alpha-web" in found and "alpha-secret" not in found
    repos = signed(outsider).get("/search?q=webapp").content.decode()
    assert "alpha-web/webapp" in repos and "alpha-secret/webapp" not in repos
    assert 'id="global-search"' in signed(outsider).get("/projects/").content.decode()

    Quota.objects.update_or_create(project=seen, defaults={"hard": 10 * 1024**3, "used": 5})
    Quota.objects.update_or_create(project=hidden, defaults={"hard": -1, "used": 900})
    client = signed(admin)
    by_use = client.get("/admin/quotas").content.decode()
    assert by_use.index("alpha-secret") < by_use.index("alpha-web")  # most used first
    by_name = client.get("/admin/quotas?sort=name").content.decode()
    assert by_name.index("alpha-secret") < by_name.index("alpha-web")
    by_name_desc = client.get("/admin/quotas?sort=-name").content.decode()
    assert by_name_desc.index("alpha-web") < by_name_desc.index("alpha-secret")
    assert "10\xa0GiB" in by_use and "unlimited" in by_use
    assert signed(outsider).get("/admin/quotas").status_code == 403

    client.post("/admin/labels", {"name": "approved", "description": "QA passed"})
    label = Label.objects.get(name="approved")
    assert label.scope == "g" and label.project is None
    assert "approved" in client.get("/admin/labels").content.decode()
    client.post(f"/admin/labels/{label.pk}/delete")
    assert not Label.objects.filter(pk=label.pk).exists()
    assert signed(outsider).post("/admin/labels", {"name": "x"}).status_code == 403
