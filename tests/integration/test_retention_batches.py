"""Retention's batched deletes (issue #25, item 1): a real run deletes the artifacts of
several repositories in one transaction (registry.deletion.delete_artifacts), and each
artifact of a batch keeps every guarantee of a delete of its own: re-checked on its
locked row, immutability checked on the locked rows, distribution's refusal keeps that
artifact only, one audit record each, the quota exact. A real distribution."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditLog
from harbor_py.core.errors import Code, DomainError
from immutable.models import ImmutableRule
from jobs import runner
from jobs.models import Status
from quotas import usage
from quotas.models import Quota
from registry import deletion
from registry.models import Artifact, Tag
from retention import runs, services
from retention.runs import RETENTION_USER
from tests.integration import registry_data
from tests.integration.test_retention import ADMIN, _image, _policy, _rule, _run

pytest_plugins = ["tests.distribution_plugin"]
pytestmark = pytest.mark.django_db
REPOSITORIES = ("r1", "r2", "r3", "r4")
EVERY = [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]


@pytest.fixture
def project(distribution, make_project):
    return make_project("bat")


def _old_and_new(project, repositories=REPOSITORIES) -> dict[str, Artifact]:
    """In each repository an old artifact (the one latestPushedK 1 deletes) and a new one."""
    old = {}
    for name in repositories:
        old[name] = _image(project, name, f"old-{name}", days_ago=3)
        _image(project, name, f"new-{name}", days_ago=1)
    return old


def _tags(project) -> set[str]:
    return set(Tag.objects.filter(repository__project=project).values_list("name", flat=True))


def test_a_real_run_costs_a_few_statements_per_delete(project):
    """Harbor's small set deletes one artifact in each of 10,000 repositories: each
    delete used to be a transaction of its own of about 30 statements; a batch's
    artifacts are locked, re-checked, audited, released from the quota and deleted with
    one set of statements, and the repositories' tasks written in bulk."""

    def statements(repositories: int) -> int:
        names = [f"n{repositories}-{r}" for r in range(repositories)]
        _old_and_new(project, names)
        scope = {"kind": "doublestar", "decoration": "repoMatches", "pattern": f"n{repositories}-*"}
        policy = _policy(project, _rule("latestPushedK", 1, repos=[scope]))
        with CaptureQueriesContext(connection) as captured:
            execution = _run(policy, dry_run=False)
        assert execution.extra_attrs["deleted"] == repositories
        services.delete_policy(policy=policy, actor=ADMIN)
        return len(captured)

    per_delete = (statements(12) - statements(2)) / 10
    assert per_delete <= 8, per_delete  # the evaluation's 2, the events', the batch's share


def test_each_artifact_of_a_batch_is_rechecked_on_its_locked_row(project, monkeypatch):
    """One batch: r1's artifact is re-tagged after the evaluation, r2's tag becomes
    immutable after it; both are kept, r3's and r4's go, audited one by one, and the
    quota is exact."""
    old = _old_and_new(project)
    original = runs.plan

    def plan_then_change(**kwargs):
        found = original(**kwargs)
        if kwargs["repository"] == "bat/r1":
            Tag.objects.create(repository=old["r1"].repository, artifact=old["r1"], name="again")
        if kwargs["repository"] == "bat/r2":
            pattern = {"kind": "doublestar", "decoration": "matches", "pattern": "old-r2"}
            ImmutableRule.objects.create(
                project=project, tag_selectors=[pattern], scope_selectors={"repository": EVERY}
            )
        return found

    monkeypatch.setattr(runs, "plan", plan_then_change)
    batches = []
    original_delete = deletion.delete_artifacts

    def counted(**kwargs):
        batches.append(len(kwargs["artifacts"]))
        return original_delete(**kwargs)

    monkeypatch.setattr(deletion, "delete_artifacts", counted)
    execution = _run(_policy(project, _rule("latestPushedK", 1)), dry_run=False)
    assert batches == [4]  # the four repositories' deletes in one transaction
    assert (execution.extra_attrs["deleted"], execution.extra_attrs["kept_meanwhile"]) == (2, 2)
    assert _tags(project) == {"old-r1", "again", "old-r2"} | {f"new-{r}" for r in REPOSITORIES}
    r2 = execution.tasks.get(extra_attrs__repository="bat/r2")
    assert "configured as immutable" in r2.log and r2.extra_attrs["kept_meanwhile"] == 1
    r1 = execution.tasks.get(extra_attrs__repository="bat/r1")
    assert "tagged or pushed during the run" in r1.log
    audited = AuditLog.objects.filter(operation="delete", resource_type="artifact")
    assert sorted(audited.values_list("resource", flat=True)) == [
        f"bat/{r}@{old[r].digest}" for r in ("r3", "r4")
    ]
    assert set(audited.values_list("username", flat=True)) == {RETENTION_USER}
    assert Quota.objects.get(project=project).used == usage.measured(project.pk)


def test_a_manifest_distribution_refuses_keeps_that_artifact_only(project, monkeypatch):
    old = _old_and_new(project)
    original = deletion._delete_manifests

    def refuse_r2(repository: str, digests: list[str]) -> None:
        if old["r2"].digest in digests:
            raise DomainError(Code.UNKNOWN, "the registry refused to delete it (500)")
        original(repository, digests)

    monkeypatch.setattr(deletion, "_delete_manifests", refuse_r2)
    policy = _policy(project, _rule("latestPushedK", 1))
    execution = services.start(policy=policy, dry_run=False, actor=ADMIN)
    runner.run(execution.tasks.get().pk)
    execution.refresh_from_db()
    assert execution.status == Status.ERROR  # one delete failed, as the log says
    tasks = execution.tasks.filter(extra_attrs__kind="repository")
    assert sorted((t.extra_attrs["deleted"], t.extra_attrs["failed"]) for t in tasks) == [
        (0, 1),
        (1, 0),
        (1, 0),
        (1, 0),
    ]
    assert _tags(project) == {"old-r2"} | {f"new-{r}" for r in REPOSITORIES}
    assert Artifact.objects.filter(pk=old["r2"].pk).exists()
    r2 = execution.tasks.get(extra_attrs__repository="bat/r2")
    assert r2.status == Status.ERROR and "refused" in r2.log
    assert Quota.objects.get(project=project).used == usage.measured(project.pk)


def test_an_accessory_follows_its_subject_in_a_batch(project):
    """An image (no index above or below it) with a signature: the batch finds its
    accessory on the subject digest and deletes it with the image."""
    old = _old_and_new(project)
    signature = registry_data.referrer(project, "r1", old["r1"])
    _run(_policy(project, _rule("latestPushedK", 1)), dry_run=False)
    assert not Artifact.objects.filter(pk__in=[old["r1"].pk, signature.pk]).exists()
    assert _tags(project) == {f"new-{r}" for r in REPOSITORIES}


def test_a_child_two_deleted_indexes_share_goes_with_the_second(project):
    """Two old multi-arch indexes share a platform image, both deleted in one batch: the
    second index's deletion set is read after the first's references went (in the same
    transaction), so the shared child goes with it, as with two deletes one after the
    other; nothing is left behind."""
    shared = registry_data.image(project, "app", architecture="arm64")
    firsts = [registry_data.image(project, "app"), registry_data.image(project, "app")]
    old = [registry_data.index(project, "app", f"old-{i}", [firsts[i], shared]) for i in (0, 1)]
    newest = [registry_data.image(project, "app")]
    new = registry_data.index(project, "app", "new", newest)
    earlier = [shared.pk, *[a.pk for a in firsts], *[a.pk for a in old]]
    Artifact.objects.filter(pk__in=earlier).update(push_time=timezone.now() - dt.timedelta(days=3))
    Tag.objects.filter(name__startswith="old-").update(
        push_time=timezone.now() - dt.timedelta(days=3)
    )
    execution = _run(_policy(project, _rule("latestPushedK", 1)), dry_run=False)
    assert execution.extra_attrs["deleted"] == 2
    left = set(Artifact.objects.filter(repository__name="bat/app").values_list("pk", flat=True))
    assert left == {new.pk, newest[0].pk}
    assert Quota.objects.get(project=project).used == usage.measured(project.pk)
