"""Tag retention (issue #25): Harbor's API and rule model, every template, selectors,
labels, immutability, index children and accessories, dry run against real run, the
untag-only option, audit, schedule and stop. Deletes go to a real distribution (the
artifacts are recorded as a push records them; distribution answers 404 for manifests it
never stored, which a delete accepts)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from harbor_py.core.actor import Actor
from immutable.models import ImmutableRule
from jobs import runner
from jobs.models import Execution, Status, Task
from projects.models import Project
from projects.roles import Role
from registry.models import Artifact, ArtifactLabel, Label, Tag
from retention import services
from retention.models import RetentionPolicy
from retention.runs import RETENTION_USER
from retention.tasks import run_scheduled_policy
from tests.contract import assert_matches
from tests.integration import registry_data
from tests.integration.conftest import assert_harbor_error, modules_on_sqlite

pytest_plugins = ["tests.distribution_plugin"]
pytestmark = pytest.mark.django_db

ADMIN = Actor(username="admin")
NOW = timezone.now()


def _rule(template: str, n: int | None = None, *, tags=None, repos=None, untagged=False):
    extras = json.dumps({"untagged": True}) if untagged else None
    tag_selectors = tags or [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]
    if extras:
        tag_selectors = [{**s, "extras": extras} for s in tag_selectors]
    return {
        "template": template,
        "action": "retain",
        "params": {template: n} if n is not None else {},
        "tag_selectors": tag_selectors,
        "scope_selectors": {
            "repository": repos
            or [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }


def _policy(project: Project, *rules, untag_only=False, cron="") -> RetentionPolicy:
    return services.create_policy(
        project=project,
        data={
            "algorithm": "or-per-tag" if untag_only else "or",
            "rules": list(rules),
            "trigger": {"kind": "Schedule", "settings": {"cron": cron}},
            "scope": {"level": "project", "ref": project.pk},
        },
        actor=ADMIN,
    )


def _run(policy: RetentionPolicy, *, dry_run: bool) -> Execution:
    execution = services.start(policy=policy, dry_run=dry_run, actor=ADMIN)
    runner.run(execution.tasks.get().pk)  # what the Celery worker does
    execution.refresh_from_db()
    assert execution.status == Status.SUCCESS, execution.status_message
    return execution


def _image(project, repository, *tags, days_ago=0, pulled_days_ago=None) -> Artifact:
    artifact = registry_data.image(project, repository, tags[0] if tags else None)
    for tag in tags[1:]:
        Tag.objects.create(repository=artifact.repository, artifact=artifact, name=tag)
    pushed = NOW - dt.timedelta(days=days_ago, seconds=1)
    Artifact.objects.filter(pk=artifact.pk).update(
        push_time=pushed,
        pull_time=None if pulled_days_ago is None else NOW - dt.timedelta(days=pulled_days_ago),
    )
    Tag.objects.filter(artifact=artifact).update(push_time=pushed)
    return artifact


def _left(project, repository="app") -> set[str]:
    """The tags left in the repository, and `@<id>` for each untagged artifact."""
    names = set(
        Tag.objects.filter(repository__name=f"{project.name}/{repository}").values_list(
            "name", flat=True
        )
    )
    untagged = Artifact.objects.filter(
        repository__name=f"{project.name}/{repository}", tags__isnull=True
    )
    return names | {f"@{a.pk}" for a in untagged}


@pytest.fixture
def project(distribution, make_project):
    return make_project("ret")


@pytest.fixture
def five(project):
    """Five images pushed 1..5 days ago (v1 oldest), pulled in the order v3, v5 (latest)."""
    return {
        f"v{i}": _image(
            project,
            "app",
            f"v{i}",
            days_ago=6 - i,
            pulled_days_ago={3: 4, 5: 2}.get(i),
        )
        for i in range(1, 6)
    }


@pytest.mark.parametrize(
    ("rule", "kept"),
    [
        (_rule("latestPushedK", 2), {"v4", "v5"}),
        (_rule("latestPulledN", 1), {"v5"}),
        (_rule("latestPulledN", 3), {"v5", "v3", "v4"}),  # then the latest pushed never pulled
        (_rule("nDaysSinceLastPush", 3), {"v4", "v5"}),
        (_rule("nDaysSinceLastPull", 3), {"v5"}),
        (_rule("always"), {"v1", "v2", "v3", "v4", "v5"}),
        (_rule("latestPushedK", 0), set()),
    ],
    ids=[
        "latestPushedK",
        "latestPulledN",
        "latestPulledN-unpulled",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "always",
        "keep-none",
    ],
)
def test_each_template_keeps_what_harbor_keeps(project, five, rule, kept):
    policy = _policy(project, rule)
    dry = _run(policy, dry_run=True)
    assert _left(project) == set(five)  # a dry run deletes nothing
    assert dry.extra_attrs["deleted"] == 5 - len(kept)
    _run(policy, dry_run=False)
    assert _left(project) == kept


def test_rules_combine_with_or_and_selectors_filter(project, make_project):
    for name, days in (("release-1", 30), ("release-2", 20), ("dev-1", 10), ("dev-2", 9), ("x", 1)):
        _image(project, "app", name, days_ago=days)
    _image(project, "tools/other", "dev-9", days_ago=40)
    _image(project, "skipped", "old", days_ago=40)
    releases = _rule(
        "always",
        tags=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
        repos=[{"kind": "doublestar", "decoration": "repoMatches", "pattern": "{app,tools/**}"}],
    )
    latest_dev = _rule(
        "latestPushedK",
        1,
        tags=[
            {"kind": "doublestar", "decoration": "matches", "pattern": "{dev,x}*"},
            {"kind": "doublestar", "decoration": "excludes", "pattern": "x"},
        ],
        repos=[
            {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"},
            {"kind": "doublestar", "decoration": "repoExcludes", "pattern": "skipped"},
        ],
    )
    policy = _policy(project, releases, latest_dev)
    _run(policy, dry_run=False)
    # release-* by the first rule, dev-2 (latest of dev*, x excluded) by the second
    assert _left(project) == {"release-1", "release-2", "dev-2"}
    assert _left(project, "tools/other") == {"dev-9"}  # the latest dev* of its repository
    assert _left(project, "skipped") == {"old"}  # no rule's scope: not touched
    execution = Execution.objects.get(vendor_type="RETENTION", parameters__dry_run=False)
    tasks = {
        t.extra_attrs["repository"]: t
        for t in execution.tasks.exclude(extra_attrs__kind="controller")
    }
    assert set(tasks) == {"ret/app", "ret/tools/other"}
    assert (tasks["ret/app"].extra_attrs["total"], tasks["ret/app"].extra_attrs["retained"]) == (
        5,
        3,
    )
    log = tasks["ret/app"].log
    assert (
        "RETAIN" in log and "retained by rule 1 (always" in log and "x  retained by no rule" in log
    )


def test_untagged_artifacts_go_unless_a_rule_includes_them(project):
    _image(project, "app", "v1", days_ago=2)
    loose = _image(project, "app", days_ago=1)
    _run(_policy(project, _rule("always")), dry_run=False)
    assert _left(project) == {"v1"}
    loose = _image(project, "app", days_ago=1)
    RetentionPolicy.objects.all().delete()
    _run(_policy(project, _rule("always", untagged=True)), dry_run=False)
    assert _left(project) == {"v1", f"@{loose.pk}"}


def test_label_selectors(project):
    label = Label.objects.create(name="keep", scope="p", project=project)
    labelled = _image(project, "app", "a", days_ago=3)
    ArtifactLabel.objects.create(artifact=labelled, label=label)
    _image(project, "app", "b", days_ago=2)
    with_label = _rule(
        "always", tags=[{"kind": "label", "decoration": "withLabels", "pattern": "keep"}]
    )
    _run(_policy(project, with_label), dry_run=False)
    assert _left(project) == {"a"}

    RetentionPolicy.objects.all().delete()
    _image(project, "app", "c", days_ago=1)
    without = _rule(
        "always",
        tags=[
            {"kind": "doublestar", "decoration": "matches", "pattern": "**"},
            {"kind": "label", "decoration": "withoutLabels", "pattern": "keep"},
        ],
    )
    _run(_policy(project, without), dry_run=False)
    assert _left(project) == {"c"}


def test_immutable_tags_are_always_retained(project):
    _image(project, "app", "prod-1", days_ago=5)
    _image(project, "app", "dev-1", days_ago=4)
    ImmutableRule.objects.create(
        project=project,
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "prod-*"}],
        scope_selectors={
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    )
    execution = _run(_policy(project, _rule("latestPushedK", 0)), dry_run=False)
    assert _left(project) == {"prod-1"}
    task = execution.tasks.get(extra_attrs__repository="ret/app")
    assert "immutable tag prod-1" in task.log


def test_index_children_and_accessories_follow_their_parent(project):
    old_children = [
        registry_data.image(project, "app"),
        registry_data.image(project, "app", architecture="arm64"),
    ]
    old = registry_data.index(project, "app", "old", old_children)
    sbom = registry_data.referrer(project, "app", old)
    new_children = [registry_data.image(project, "app")]
    new = registry_data.index(project, "app", "new", new_children)
    Artifact.objects.filter(pk__in=[old.pk, sbom.pk, *[c.pk for c in old_children]]).update(
        push_time=NOW - dt.timedelta(days=3)
    )
    Tag.objects.filter(name="old").update(push_time=NOW - dt.timedelta(days=3))
    execution = _run(_policy(project, _rule("latestPushedK", 1)), dry_run=False)
    remaining = set(
        Artifact.objects.filter(repository__name="ret/app").values_list("pk", flat=True)
    )
    assert remaining == {new.pk, new_children[0].pk}  # the old index took its children and SBOM
    task = execution.tasks.get(extra_attrs__repository="ret/app")
    assert task.extra_attrs["total"] == 2  # the candidates are the two indexes


def test_dry_run_lists_exactly_what_the_real_run_deletes_and_it_is_audited(project):
    artifacts = [_image(project, "app", f"t{i}", days_ago=10 - i) for i in range(6)]
    policy = _policy(project, _rule("latestPushedK", 2))
    dry = _run(policy, dry_run=True)
    dry_log = dry.tasks.get(extra_attrs__repository="ret/app").log
    would = {line.split()[2] for line in dry_log.splitlines() if " DELETE " in line}
    real = _run(policy, dry_run=False)
    gone = {a.digest for a in artifacts} - set(
        Artifact.objects.filter(repository__name="ret/app").values_list("digest", flat=True)
    )
    assert would == gone and len(gone) == 4
    assert real.extra_attrs["deleted"] == dry.extra_attrs["deleted"] == 4
    audited = AuditLog.objects.filter(operation="delete", resource_type="artifact")
    assert audited.count() == 4
    assert set(audited.values_list("username", flat=True)) == {RETENTION_USER}
    assert all(f"retention policy {policy.pk}" in e.description for e in audited)


def test_a_run_costs_a_few_statements_per_repository(project):
    """Issue #25's scale (Harbor's small set is 10,000 repositories): a repository with
    nothing to delete costs its evaluation, its tags and its task's one INSERT, log
    included; the stop flag and the immutability rules are not read per repository."""
    from django.test.utils import CaptureQueriesContext

    def statements(repositories: int) -> int:
        for r in range(repositories):
            _image(project, f"n{repositories}-{r}", "v1")
        scope = {"kind": "doublestar", "decoration": "repoMatches", "pattern": f"n{repositories}-*"}
        policy = _policy(project, _rule("always", repos=[scope]))
        with CaptureQueriesContext(connection) as captured:
            execution = _run(policy, dry_run=False)
        assert execution.extra_attrs["repositories"] == repositories
        task = execution.tasks.get(extra_attrs__repository=f"ret/n{repositories}-0")
        assert task.status == Status.SUCCESS and "RETAIN" in task.log
        services.delete_policy(policy=policy, actor=ADMIN)
        return len(captured)

    assert (statements(8) - statements(2)) / 6 <= 3


@pytest.mark.parametrize("untag_only", [False, True])
def test_the_default_tag_selector_is_evaluated_without_a_regular_expression(project, untag_only):
    """`**` (every tag) is the tag's presence: no expression per tag of every candidate,
    which a repository of 20,000 tags paid on every run (issue #25)."""
    from django.test.utils import CaptureQueriesContext

    _image(project, "app", "old", days_ago=2)
    _image(project, "app", "new", days_ago=1)
    policy = _policy(project, _rule("latestPushedK", 1), untag_only=untag_only)
    with CaptureQueriesContext(connection) as captured:
        _run(policy, dry_run=True)
    evaluation = [q["sql"] for q in captured if q["sql"].startswith("WITH c AS")]
    assert len(evaluation) == 1
    assert " ~ " not in evaluation[0] and "REGEXP" not in evaluation[0]
    assert _left(project) == {"old", "new"}
    _run(policy, dry_run=False)
    assert _left(project) == {"new"}


def test_untag_only_keeps_an_artifact_another_of_its_tags_keeps(project):
    both = _image(project, "app", "release-1", "build-17", days_ago=5)
    _image(project, "app", "build-18", days_ago=4)
    rule = _rule(
        "always", tags=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}]
    )
    policy = _policy(project, rule, untag_only=True)
    dry = _run(policy, dry_run=True)
    assert (dry.extra_attrs["deleted"], dry.extra_attrs["untagged"]) == (1, 1)
    _run(policy, dry_run=False)
    assert _left(project) == {"release-1"}
    assert Artifact.objects.filter(pk=both.pk).exists()
    tag_audit = AuditLog.objects.get(operation="delete", resource_type="tag")
    assert (
        tag_audit.username == RETENTION_USER and "tag retained by no rule" in tag_audit.description
    )


def test_a_tag_written_after_the_evaluation_keeps_its_artifact(project, monkeypatch):
    """The snapshot said delete; a push re-tags the artifact before the delete: kept."""
    from retention import runs

    doomed = _image(project, "app", "old", days_ago=3)
    _image(project, "app", "new", days_ago=1)
    original = runs.plan

    def plan_then_push(**kwargs):
        found = original(**kwargs)
        Tag.objects.create(repository=doomed.repository, artifact=doomed, name="again")
        return found

    monkeypatch.setattr(runs, "plan", plan_then_push)
    execution = _run(_policy(project, _rule("latestPushedK", 1)), dry_run=False)
    assert _left(project) == {"old", "again", "new"}
    assert execution.extra_attrs["kept_meanwhile"] == 1


def test_api_policy_lifecycle_matches_harbor(project, admin, client_for, make_user):
    api = client_for(admin)
    meta = api.get("/api/v2.0/retentions/metadatas")
    assert_matches("getRentenitionMetadata", meta, 200)
    assert {t["rule_template"] for t in meta.json()["templates"]} == {
        "latestPushedK",
        "latestPulledN",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "always",
    }
    body = {
        "algorithm": "or",
        "rules": [_rule("latestPushedK", 10)],
        "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}, "references": {}},
        "scope": {"level": "project", "ref": project.pk},
    }
    created = api.post("/api/v2.0/retentions", body, format="json")
    assert created.status_code == 201, created.content
    policy_id = int(created["Location"].rsplit("/", 1)[1])
    project.refresh_from_db()
    assert project.metadata["retention_id"] == str(policy_id)
    assert_harbor_error(api.post("/api/v2.0/retentions", body, format="json"), 409, "CONFLICT")
    got = api.get(f"/api/v2.0/retentions/{policy_id}")
    assert_matches("getRetention", got, 200)
    assert got.json()["rules"][0]["params"] == {"latestPushedK": 10}
    assert PeriodicTask.objects.filter(name=f"harbor-retention-policy-{policy_id}").exists()

    body["rules"] = [_rule("always")]
    body["trigger"]["settings"]["cron"] = ""
    body["algorithm"] = "or-per-tag"  # harbor-py: remove only the tags no rule retains
    assert api.put(f"/api/v2.0/retentions/{policy_id}", body, format="json").status_code == 200
    assert_matches("getRetention", again := api.get(f"/api/v2.0/retentions/{policy_id}"), 200)
    assert again.json()["algorithm"] == "or-per-tag"
    assert RetentionPolicy.objects.get(pk=policy_id).untag_only
    assert not PeriodicTask.objects.filter(name=f"harbor-retention-policy-{policy_id}").exists()

    started = api.post(
        f"/api/v2.0/retentions/{policy_id}/executions", {"dry_run": True}, format="json"
    )
    assert started.status_code == 201
    execution_id = int(started["Location"].rsplit("/", 1)[1])
    runner.run(Task.objects.get(execution_id=execution_id).pk)
    listed = api.get(f"/api/v2.0/retentions/{policy_id}/executions")
    assert_matches("listRetentionExecutions", listed, 200)
    assert listed.json()[0]["dry_run"] is True and listed.json()[0]["status"] == "Success"
    tasks = api.get(f"/api/v2.0/retentions/{policy_id}/executions/{execution_id}/tasks")
    assert_matches("listRetentionTasks", tasks, 200)
    stop = api.patch(
        f"/api/v2.0/retentions/{policy_id}/executions/{execution_id}",
        {"action": "stop"},
        format="json",
    )
    assert_harbor_error(stop, 400, "BAD_REQUEST")  # it has finished

    outsider = client_for(make_user("outsider"))
    assert_harbor_error(outsider.get(f"/api/v2.0/retentions/{policy_id}"), 404, "NOT_FOUND")
    guest = make_user("guest")
    project.members.create(user=guest, role=Role.GUEST)
    assert_harbor_error(
        client_for(guest).delete(f"/api/v2.0/retentions/{policy_id}"), 403, "FORBIDDEN"
    )
    assert api.delete(f"/api/v2.0/retentions/{policy_id}").status_code == 200
    project.refresh_from_db()
    assert "retention_id" not in project.metadata


@pytest.mark.parametrize(
    "broken",
    [
        {"template": "latestPushedK", "params": {"latestPushedK": -1}},
        {"template": "nope"},
        {"tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "[a"}]},
        {"tag_selectors": [{"kind": "regex", "decoration": "matches", "pattern": "a"}]},
        {"scope_selectors": {"repository": []}},
    ],
)
def test_invalid_rules_are_a_400(project, admin, client_for, broken):
    body = {
        "algorithm": "or",
        "rules": [{**_rule("latestPushedK", 1), **broken}],
        "scope": {"level": "project", "ref": project.pk},
    }
    assert_harbor_error(client_for(admin).post("/api/v2.0/retentions", body, format="json"), 400)
    assert not RetentionPolicy.objects.exists()


def test_a_scheduled_tick_starts_a_run_and_a_stop_before_it_runs_stops_it(project):
    _image(project, "app", "v1")
    policy = _policy(project, _rule("always"), cron="0 0 0 * * *")
    run_scheduled_policy(policy.pk)
    execution = Execution.objects.get(vendor_type="RETENTION")
    assert execution.trigger == "SCHEDULE"
    services.stop(execution=execution, actor=ADMIN)
    runner.run(execution.tasks.get().pk)
    execution.refresh_from_db()
    assert execution.status == Status.STOPPED
    assert _left(project) == {"v1"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="runs the modules on SQLite")
def test_retention_on_sqlite(tmp_path: Path):
    """The embedded default's database (docs/architecture.md): this module and the races
    run again on SQLite, where the evaluation's regular expressions are Django's REGEXP
    function and the deletes' locks are SQLite's write lock (docs/deletes.md)."""
    races = str(Path(__file__).with_name("test_retention_races.py"))
    batches = str(Path(__file__).with_name("test_retention_batches.py"))
    result = modules_on_sqlite(tmp_path, __file__, races, batches)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "1 skipped" in result.stdout
