"""Storage quotas and tag immutability in the web UI: usage / limit in the projects list,
the limit at project creation and on the configuration tab (sysadmins), the defaults on the
system configuration page; immutability rules added, edited, disabled and deleted with the
API's permissions; the "immutable" badge and a refused tag delete."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from harbor_py.core import configuration
from immutable.models import ImmutableRule
from projects.models import Project
from projects.roles import Role
from quotas.models import Quota
from registry.models import Artifact, Tag
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
MiB = 1024**2
GiB = 1024**3


def signed(user, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def rule_form(tags: str = "v*", repositories: str = "**", **extra: str) -> dict:
    return {
        "repository_decoration": "repoMatches",
        "repository_pattern": repositories,
        "tag_decoration": "matches",
        "tag_pattern": tags,
        "priority": "0",
        "enabled": "on",
        **extra,
    }


@pytest.fixture
def quota_defaults():
    saved = configuration.snapshot()
    yield
    configuration.store(
        {key: saved[key] for key in ("quota_per_project_enable", "storage_per_project")}
    )


def test_projects_list_shows_usage_of_the_limit(make_user, make_project):
    alice = make_user("alice")
    mine = make_project("mine", owner=alice)
    make_project("open", public=True)
    image(mine, "app", "v1", layer_sizes=(3 * MiB,))
    Quota.objects.update_or_create(project=mine, defaults={"hard": 2 * GiB})
    Quota.objects.filter(project=mine).update(used=3 * MiB)
    body = signed(alice).get("/projects/").content.decode()
    assert "3\xa0MiB / 2\xa0GiB" in body
    row = body.split(">open<", 1)[1].split("</tr>", 1)[0]
    assert "—" in row  # a public project's quota is for its members


def test_create_project_with_a_storage_limit(admin, make_user, quota_defaults):
    client = signed(admin)
    assert 'name="storage_limit_0"' in client.get("/projects/new").content.decode()
    client.post(
        "/projects/new",
        {"project_name": "sized", "storage_limit_0": "10", "storage_limit_1": "MiB"},
    )
    assert Quota.objects.get(project__name="sized").hard == 10 * MiB
    client.post("/projects/new", {"project_name": "default"})
    assert Quota.objects.get(project__name="default").hard == -1
    bad = client.post("/projects/new", {"project_name": "bad", "storage_limit_0": "-7"})
    assert bad.status_code == 400 and not Project.objects.filter(name="bad").exists()
    # Others get the default, as POST /projects; so does everyone without per-project quotas.
    alice = signed(make_user("alice"))
    assert 'name="storage_limit_0"' not in alice.get("/projects/new").content.decode()
    alice.post(
        "/projects/new", {"project_name": "hers", "storage_limit_0": "1", "storage_limit_1": "B"}
    )
    assert Quota.objects.get(project__name="hers").hard == -1
    configuration.store({"quota_per_project_enable": False})
    assert 'name="storage_limit_0"' not in client.get("/projects/new").content.decode()


def test_configuration_tab_shows_and_changes_the_quota(admin, make_user, make_project):
    owner, guest = make_user("owner"), make_user("guest")
    project = make_project("team", owner=owner, members={guest: Role.GUEST})
    image(project, "app", "v1")
    make_project("secret")
    body = signed(guest).get("/projects/team/configuration").content.decode()
    assert "used of an unlimited quota." in body and "Save storage limit" not in body
    refused = signed(owner).post(
        "/projects/team/quota", {"hard_0": "1", "hard_1": "GiB"}
    )  # PUT /quotas/{id} is for sysadmins
    assert refused.status_code == 403
    assert signed(make_user("outsider")).post("/projects/secret/quota").status_code == 404
    client = signed(admin)
    bad = client.post("/projects/team/quota", {"hard_0": "-3", "hard_1": "GiB"})
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to -1." in bad.content.decode()
    assert client.post("/projects/team/quota", {"hard_0": "", "hard_1": "GiB"}).status_code == 400
    client.post("/projects/team/quota", {"hard_0": "5", "hard_1": "GiB"})
    assert Quota.objects.get(project=project).hard == 5 * GiB
    assert AuditLog.objects.filter(resource="team", description=f"storage limit {5 * GiB}").exists()
    shown = client.get("/projects/team/configuration").content.decode()
    assert "of 5\xa0GiB." in shown and 'value="5"' in shown and '"GiB" selected' in shown


def test_system_configuration_has_the_quota_defaults(admin, quota_defaults):
    client = signed(admin)
    page = client.get("/admin/configuration").content.decode()
    assert 'name="quota_per_project_enable"' in page and 'name="storage_per_project_0"' in page
    form = {
        key: value
        for key, value in configuration.snapshot().items()
        if value is not None and value is not False and key != "storage_per_project"
    }
    form = {key: "on" if value is True else value for key, value in form.items()}
    form.pop("quota_per_project_enable", None)
    client.post(
        "/admin/configuration",
        {**form, "storage_per_project_0": "20", "storage_per_project_1": "GiB"},
    )
    assert configuration.get("storage_per_project") == 20 * GiB
    assert configuration.get("quota_per_project_enable") is False


def test_rules_follow_the_api_permissions(make_user, make_project):
    owner, developer = make_user("owner"), make_user("dev")
    make_project("team", owner=owner, members={developer: Role.DEVELOPER})
    make_project("secret")
    dev = signed(developer)
    assert "Tag immutability" not in dev.get("/projects/team/configuration").content.decode()
    assert dev.post("/projects/team/immutability", rule_form()).status_code == 403
    outsider = signed(make_user("outsider"))
    assert outsider.post("/projects/secret/immutability", rule_form()).status_code == 404
    csrf = signed(owner, csrf=True)
    assert csrf.post("/projects/team/immutability", rule_form()).status_code == 403
    assert not ImmutableRule.objects.exists()
    assert "Add a rule" in signed(owner).get("/projects/team/configuration").content.decode()


def test_rules_added_edited_disabled_and_deleted(make_user, make_project):
    owner, developer = make_user("owner"), make_user("dev")
    make_project("team", owner=owner, members={developer: Role.DEVELOPER})
    client = signed(owner)
    created = client.post("/projects/team/immutability", rule_form("v*", "team/**"))
    assert created.status_code == 302
    rule = ImmutableRule.objects.get()
    assert rule.tag_selectors == [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}]
    assert rule.scope_selectors["repository"][0]["pattern"] == "team/**" and not rule.disabled
    page = client.get("/projects/team/configuration").content.decode()
    assert "<code>team/**</code>" in page and "<code>v*</code>" in page
    dup = client.post("/projects/team/immutability", rule_form("v*", "team/**"))
    assert dup.status_code == 400 and "same selectors already exists" in dup.content.decode()
    bad = client.post("/projects/team/immutability", rule_form("[v"))
    assert bad.status_code == 400 and "Not a valid tag pattern (unclosed [" in bad.content.decode()
    assert ImmutableRule.objects.count() == 1

    edit = f"/projects/team/immutability/{rule.pk}"
    assert 'value="team/**"' in client.get(edit).content.decode()
    assert signed(developer).get(edit).status_code == 403
    client.post(edit, rule_form("release-*", "**", tag_decoration="excludes", priority="3"))
    rule.refresh_from_db()
    assert rule.tag_selectors[0] == {
        "kind": "doublestar",
        "decoration": "excludes",
        "pattern": "release-*",
    }
    assert rule.priority == 3
    client.post(f"{edit}/toggle")
    rule.refresh_from_db()
    assert rule.disabled
    client.post(f"{edit}/toggle")
    rule.refresh_from_db()
    assert not rule.disabled
    question = client.get(f"{edit}/delete").content.decode()
    assert "Delete the immutability rule for tags release-*?" in question
    assert ImmutableRule.objects.filter(pk=rule.pk).exists()
    client.post(f"{edit}/delete")
    assert not ImmutableRule.objects.exists()
    assert client.get(edit).status_code == 404


def test_immutable_badge_and_refused_tag_delete(make_user, make_project):
    owner = make_user("owner")
    project = make_project("team", owner=owner)
    artifact = image(project, "app", "v1")
    Tag.objects.create(repository=artifact.repository, artifact=artifact, name="latest")
    client = signed(owner)
    client.post("/projects/team/immutability", rule_form("v*"))
    listing = client.get("/projects/team/repositories/app/").content.decode()
    assert listing.count('class="badge immutable"') == 1
    base = f"/projects/team/repositories/app/-/artifacts/{artifact.digest}"
    detail = client.get(base).content.decode()
    assert detail.count('class="badge immutable"') == 1
    refused = client.post(f"{base}/tags/v1/delete", follow=True)
    assert "team/app:v1 is immutable: a tag immutability rule" in refused.content.decode()
    assert Tag.objects.filter(name="v1").exists()
    client.post(f"{base}/tags/latest/delete")
    assert not Tag.objects.filter(name="latest").exists()
    chinese = client.post(f"{base}/delete", follow=True, HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert "team/app:v1 " in chinese.content.decode() and "不可变" in chinese.content.decode()
    assert Artifact.objects.filter(pk=artifact.pk).exists()


def test_quota_and_rule_changes_need_the_csrf_token(admin, make_project):
    project = make_project("team", owner=admin)
    signed(admin).post("/projects/team/immutability", rule_form())
    rule = ImmutableRule.objects.get()
    client = signed(admin, csrf=True)
    base = f"/projects/team/immutability/{rule.pk}"
    posts = {
        "/projects/team/quota": {"hard_0": "1", "hard_1": "GiB"},
        "/projects/team/immutability": rule_form("other"),
        base: rule_form("changed"),
        f"{base}/toggle": {},
        f"{base}/delete": {},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
    rule.refresh_from_db()
    assert rule.tag_selectors[0]["pattern"] == "v*" and not rule.disabled
    assert ImmutableRule.objects.count() == 1
    assert not Quota.objects.filter(project=project, hard=GiB).exists()
