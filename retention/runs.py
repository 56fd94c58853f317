"""The RETENTION job: one execution per run of a policy, one task per repository whose
log is the table of what the run deleted and kept and why (Harbor's retention tasks).

Decided on a snapshot (retention.evaluation, one statement per repository), applied by
retention.applying: each delete is re-checked on the locked row before it happens
(docs/deletes.md): the artifact goes only if its tags are still exactly those the
evaluation saw and none was pushed since. A push that re-tags it first keeps it; a push
that comes while the artifact is locked waits and records itself again. Deletes go
through registry.deletion like the API's, so index children and accessories follow
their parent, immutability is checked on the locked rows, and the audit record names
`harbor-retention` and the policy.

Bounded: repositories are read in pages, deletes go in batches of a few dozen
artifacts, one short transaction each (a push waits at most for one), between which the
run checks whether it was asked to stop (at most once a second); the job holds one
database connection. Cheap per repository (issue #25: Harbor's small set is 10,000 of
them): the project's immutability rules are read once per run (each batch checks them
again on its locked rows), and the repositories' tasks are written once each, in bulk.
Paced: after each batch the run rests HARBOR_RETENTION_PACE times as long as the batch
took (default 2: at most a third of the time in deletes; at 1, pushes beside a run over
a repository of 20,000 tags went at 0.79 of their rate, at 2 at 0.95), so that the row
locks a push shares with a delete (the artifact's, the project's quota row, which a
delete holds for its own blobs only: quotas.usage.released) and the CPU stay mostly
free for pushes (docs/retention.md, "Measured").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from harbor_py.core.events import publish
from immutable.matching import CompiledRule, protected, selector_accepts
from immutable.selectors import active_rules, repository_path
from jobs.context import JobContext, Stopped
from jobs.models import Task
from registry import pulls
from registry.models import Repository
from retention.applying import RETENTION_USER, Deleter, Tasks, counts, pace, planned
from retention.evaluation import Plan, plan
from retention.events import RetentionFinished
from retention.models import RetentionPolicy
from retention.rules import Rule, compiled

VENDOR = "RETENTION"
CONTROLLER = "controller"
REPOSITORY_PAGE = 500
STOP_CHECK_SECONDS = 1.0
__all__ = ["CONTROLLER", "RETENTION_USER", "VENDOR", "pace", "run"]

logger = logging.getLogger(__name__)


def applicable(rules: list[Rule], repository: str) -> list[Rule]:
    path = repository_path(repository)
    return [r for r in rules if all(selector_accepts(s, path) for s in r.repository_selectors)]


class _StopCheck:
    """context.should_stop() at most once every STOP_CHECK_SECONDS: a query per
    repository was a fifth of a dry run's statements."""

    def __init__(self, context: JobContext) -> None:
        self.context, self.due = context, 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.due:
            return False
        self.due = now + STOP_CHECK_SECONDS
        return self.context.should_stop()


def _repositories(project_id: int) -> Any:
    last = ""
    while True:
        page = list(
            Repository.objects.filter(project_id=project_id, name__gt=last).order_by("name")[
                :REPOSITORY_PAGE
            ]
        )
        yield from page
        if len(page) < REPOSITORY_PAGE:
            return
        last = page[-1].name


def _immutable(rules: list[CompiledRule], repository: str) -> Callable[[str], bool]:
    path = repository_path(repository)
    return (lambda tag: protected(rules, path, tag)) if rules else (lambda tag: False)


def run(context: JobContext) -> dict[str, Any]:
    policy_id = int(context.parameters["policy_id"])
    dry_run = context.parameters.get("dry_run") is True
    policy = RetentionPolicy.objects.select_related("project").filter(pk=policy_id).first()
    if policy is None:
        raise LookupError(f"retention policy {policy_id} no longer exists")
    Task.objects.filter(pk=context.task_id).update(extra_attrs={"kind": CONTROLLER})
    rules = compiled(policy.rules)
    _aggregate_pulls(context)
    context.log(
        f"{'dry run' if dry_run else 'run'} of retention policy {policy.pk} "
        f"(project {policy.project.name}, {len(rules)} enabled rules"
        f"{', removing only unretained tags' if policy.untag_only else ''})",
        event="retention.started",
        dry_run=dry_run,
        policy=policy.pk,
        project=policy.project.name,
        rules=len(rules),
        untag_only=policy.untag_only,
    )
    totals = {"repositories": 0, "total": 0, "retained": 0, "deleted": 0, "untagged": 0}
    totals.update(kept_meanwhile=0, failed=0)

    def finished(found: Plan, counts: dict[str, int]) -> None:
        totals["repositories"] += 1
        totals["total"] += found.total
        totals["retained"] += found.total - counts["deleted"]
        for key in ("deleted", "untagged", "kept_meanwhile", "failed"):
            totals[key] += counts[key]

    stopping = _StopCheck(context)
    tasks = Tasks(context.execution_id)
    deleter = Deleter(context, tasks, stopping, policy, finished)
    immutable_rules = active_rules(policy.project_id)  # each delete reads them again
    try:
        for repository in _repositories(policy.project_id):
            if stopping():
                raise Stopped
            rules_here = applicable(rules, repository.name)
            if not rules_here:
                continue
            found = plan(
                repository_id=repository.pk,
                repository=repository.name,
                rules=rules_here,
                untag_only=policy.untag_only,
                immutable=_immutable(immutable_rules, repository.name),
                now=timezone.now(),
            )
            if dry_run:
                would = counts(
                    deleted=sum(1 for d in found.decisions if d.delete),
                    untagged=sum(len(d.deleted_tags) for d in found.decisions),
                )
                finished(found, would)
                tasks.finished(found, would, planned(found))
            elif found.to_apply:
                deleter.add(found, repository)
            else:
                finished(found, counts())
                tasks.finished(found, counts(), planned(found))
        deleter.flush()
    except Stopped:
        deleter.stopped()
        raise
    finally:
        tasks.write()
    gone = deleter.gone
    verb = "would delete" if dry_run else "deleted"
    context.log(
        f"{totals['repositories']} repositories, {totals['total']} artifacts: "
        f"{verb} {totals['deleted']} artifacts and {totals['untagged']} more tags, "
        f"{totals['kept_meanwhile']} kept because they changed during the run",
        event="retention.dry_run_done" if dry_run else "retention.done",
        **totals,
    )
    if not dry_run:
        publish(
            RetentionFinished(
                project=policy.project.name,
                policy_id=policy.pk,
                execution_id=context.execution_id,
                status="Error" if totals["failed"] else "Success",
                total=totals["total"],
                retained=totals["retained"],
                deleted=tuple(gone),
            )
        )
    if totals["failed"]:
        raise RuntimeError(f"{totals['failed']} deletes failed (see the repositories' logs)")
    return {"dry_run": dry_run, **totals}


def _aggregate_pulls(context: JobContext) -> None:
    """Fold the pulls recorded since the last aggregation into the pull times first: the
    "latest pulled" and "pulled within" rules read them."""
    try:
        pulls.aggregate()
    except Exception as exc:  # Redis away: the last aggregated times are still good
        context.log(f"pull times not refreshed: {exc}", event="retention.pulls", why=str(exc))
