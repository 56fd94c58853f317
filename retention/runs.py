"""The RETENTION job: one execution per run of a policy, one task per repository whose
log is the table of what the run deleted and kept and why (Harbor's retention tasks).

Decided on a snapshot (retention.evaluation, one statement per repository), each delete
is re-checked on the locked row before it happens (docs/deletes.md): the artifact goes
only if its tags are still exactly those the evaluation saw and none was pushed since.
A push that re-tags it first keeps it; a push that comes while the artifact is locked
waits and records itself again. Deletes go through registry.deletion like the API's, so
index children and accessories follow their parent, immutability is checked on the
locked rows, and the audit record names `harbor-retention` and the policy.

Bounded: repositories are read in pages, deletes are done one artifact per short
transaction (a push waits at most for one), in batches between which the run checks
whether it was asked to stop (at most once a second); the job holds one database
connection. Cheap per repository (issue #25: Harbor's small set is 10,000 of them): the
project's immutability rules are read once per run (each delete checks them again on its
locked rows), and a repository's task is written once with its log when nothing is to be
deleted (a dry run), else once at the start and once per batch. Paced: after each
delete the run rests HARBOR_RETENTION_PACE times as long as the delete took (default 2:
at most a third of the time in deletes; at 1, pushes beside a run over a repository of
20,000 tags went at 0.79 of their rate, at 2 at 0.95), so that the row locks a push
shares with a delete (the artifact's, the project's quota row, which a delete holds for
its own blobs only: quotas.usage.released) and the CPU stay mostly free for pushes
(docs/retention.md, "Measured").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from harbor_py.core import env
from harbor_py.core.actor import Actor
from harbor_py.core.db import fetch_all
from harbor_py.core.errors import Code, DomainError
from harbor_py.core.events import publish
from immutable.matching import CompiledRule, protected, selector_accepts
from immutable.selectors import active_rules, repository_path
from jobs.context import JobContext, Stopped
from jobs.models import Status, Task
from registry import deletion, pulls, services
from registry.models import Artifact, Repository, Tag
from retention.evaluation import Decision, Plan, plan
from retention.events import RetentionFinished
from retention.models import RetentionPolicy
from retention.rules import Rule, compiled

VENDOR = "RETENTION"
RETENTION_USER = "harbor-retention"
RETENTION = Actor.system(RETENTION_USER)
CONTROLLER = "controller"
REPOSITORY_PAGE = 500
DELETE_BATCH = 100
STOP_CHECK_SECONDS = 1.0
DEFAULT_PACE = "2"

logger = logging.getLogger(__name__)


def pace() -> float:
    """How long the run rests after a delete, as a multiple of the delete's time."""
    try:
        return max(0.0, float(env.get("HARBOR_RETENTION_PACE", DEFAULT_PACE)))
    except ValueError:
        return float(DEFAULT_PACE)


def _rest(started: float, factor: float) -> None:
    if factor:
        time.sleep(factor * (time.monotonic() - started))


def applicable(rules: list[Rule], repository: str) -> list[Rule]:
    path = repository_path(repository)
    return [r for r in rules if all(selector_accepts(s, path) for s in r.repository_selectors)]


Line = tuple[str, str, dict[str, Any]]  # the English line, its event, its parameters
_encode = json.JSONEncoder(default=str).encode  # once: json.dumps builds one per call


def _texts(lines: list[Line]) -> dict[str, str]:
    """A task's `log` (English, as the API serves it) and `records` (the same lines as
    events and parameters, which the UI words in its language: frontend.retention_log)."""
    stamp = timezone.now().isoformat(timespec="seconds")
    head = f'{{"time": "{stamp}", "event": "'  # a record is {"time", "event", "params"}
    return {
        "log": "".join(f"{stamp} {line}\n" for line, _, _ in lines),
        "records": "".join(
            f'{head}{event}", "params": {_encode(params)}}}\n' for _, event, params in lines
        ),
    }


def _planned(found: Plan) -> list[Line]:
    return [
        (line, event, params)
        for line, (event, params) in zip(found.lines(), found.records(), strict=True)
    ]


class _TaskLog:
    """A repository task's log lines not written yet: each batch's are written when the
    next batch starts, the last ones with the task's final update."""

    def __init__(self, task_id: int) -> None:
        self.task_id, self.lines = task_id, list[Line]()

    def add(self, line: str, event: str, **params: Any) -> None:
        self.lines.append((line, event, params))

    def write(self) -> None:
        if changes := self.unwritten():
            Task.objects.filter(pk=self.task_id).update(**changes)

    def unwritten(self) -> dict[str, Any]:
        """The update of the log and its records (JobContext.unwritten's shape)."""
        if not self.lines:
            return {}
        texts, self.lines = _texts(self.lines), []
        return {column: Concat(column, Value(text)) for column, text in texts.items()}


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


class _Unchanged:
    """The re-check on the locked row: the artifact's tags are what the plan saw, and
    none was pushed (again) since."""

    def __init__(self, decision: Decision, plan: Plan) -> None:
        self.tags, self.since = set(decision.tags), plan.evaluated_at

    def __call__(self, artifact: Artifact) -> bool:
        tags = fetch_all(Tag, "artifact_id = %s", [artifact.pk])  # once per delete: no ORM
        return {t.name for t in tags} == self.tags and all(t.push_time <= self.since for t in tags)


def _apply(
    stopping: _StopCheck,
    log: _TaskLog,
    found: Plan,
    repository: Repository,
    policy: RetentionPolicy,
    gone: list[str],
) -> dict[str, int]:
    """Delete what the plan says, each re-checked under its lock; counts. What went is
    appended to `gone` (repository:tag, or repository@digest when it had no tag)."""
    counts = _counts()
    reason = f"retention policy {policy.pk}: retained by no rule"
    doomed = [d for d in found.decisions if d.delete]
    untag = [d for d in found.decisions if not d.delete and d.deleted_tags]
    factor = pace()
    for start in range(0, len(doomed), DELETE_BATCH):
        if stopping():
            raise Stopped
        log.write()
        batch = doomed[start : start + DELETE_BATCH]
        ids = [d.artifact_id for d in batch]
        rows = {
            a.pk: a for a in fetch_all(Artifact, f"id IN ({', '.join(['%s'] * len(ids))})", ids)
        }
        for decision in batch:
            artifact = rows.get(decision.artifact_id)
            if artifact is not None:
                artifact.repository = repository
            if artifact is None:
                log.add(
                    f"gone    {decision.digest}: deleted meanwhile",
                    "retention.gone",
                    digest=decision.digest,
                )
                continue
            started = time.monotonic()
            try:
                done = deletion.delete_artifact(
                    artifact=artifact,
                    actor=RETENTION,
                    still_wanted=_Unchanged(decision, found),
                    reason=reason,
                )
            except DomainError as exc:
                counts["failed" if exc.code == Code.UNKNOWN else "kept_meanwhile"] += 1
                log.add(
                    f"KEPT    {decision.digest}: {exc.message}",
                    "retention.kept",
                    digest=decision.digest,
                    **_why(exc),
                )
                continue
            finally:
                _rest(started, factor)
            if done:
                counts["deleted"] += 1
                log.add(f"deleted {decision.digest}", "retention.deleted", digest=decision.digest)
                gone.extend(
                    [f"{found.repository}:{t}" for t in sorted(decision.tags)]
                    or [f"{found.repository}@{decision.digest}"]
                )
            else:
                counts["kept_meanwhile"] += 1
                log.add(
                    f"KEPT    {decision.digest}: tagged or pushed during the run",
                    "retention.kept_changed",
                    digest=decision.digest,
                )
    for start in range(0, len(untag), DELETE_BATCH):
        if stopping():
            raise Stopped
        log.write()
        for decision in untag[start : start + DELETE_BATCH]:
            for name in decision.deleted_tags:
                tag = (
                    Tag.objects.select_related("repository__project", "artifact")
                    .filter(repository_id=found.repository_id, name=name)
                    .first()
                )
                if tag is None or tag.artifact_id != decision.artifact_id:
                    counts["kept_meanwhile"] += 1
                    log.add(
                        f"KEPT    {found.repository}:{name}: moved or deleted meanwhile",
                        "retention.tag_moved",
                        tag=name,
                    )
                    continue
                started = time.monotonic()
                try:
                    services.delete_tag(
                        tag=tag,
                        actor=RETENTION,
                        unchanged_since=found.evaluated_at,
                        reason=f"retention policy {policy.pk}: tag retained by no rule",
                    )
                except DomainError as exc:
                    counts["kept_meanwhile"] += 1
                    line = f"KEPT    {found.repository}:{name}: {exc.message}"
                    log.add(line, "retention.tag_kept", tag=name, **_why(exc))
                    continue
                finally:
                    _rest(started, factor)
                counts["untagged"] += 1
                log.add(f"untagged {found.repository}:{name}", "retention.untagged", tag=name)
                gone.append(f"{found.repository}:{name}")
    return counts


def _why(exc: DomainError) -> dict[str, Any]:
    """A refusal's reason for a record: its words, and its key where it has one."""
    return {"why": exc.message, "why_key": exc.key, "why_params": exc.params or {}}


def _counts(**counts: int) -> dict[str, int]:
    return {"deleted": 0, "untagged": 0, "kept_meanwhile": 0, "failed": 0, **counts}


def _immutable(rules: list[CompiledRule], repository: str) -> Callable[[str], bool]:
    path = repository_path(repository)
    return (lambda tag: protected(rules, path, tag)) if rules else (lambda tag: False)


def _final(found: Plan, counts: dict[str, int]) -> dict[str, Any]:
    """A repository task's final columns but its log."""
    return {
        "status": Status.ERROR if counts["failed"] else Status.SUCCESS,
        "end_time": timezone.now(),
        "extra_attrs": {
            "kind": "repository",
            "repository": found.repository,
            "total": found.total,
            "retained": found.total - counts["deleted"],
            **counts,
        },
    }


def _finished_task(context: JobContext, found: Plan, counts: dict[str, int]) -> None:
    """The task of a repository with nothing to apply (or a dry run's): one INSERT."""
    Task.objects.create(
        execution_id=context.execution_id,
        start_time=found.evaluated_at,
        **_texts(_planned(found)),
        **_final(found, counts),
    )


def _apply_in_task(
    context: JobContext,
    stopping: _StopCheck,
    found: Plan,
    repository: Repository,
    policy: RetentionPolicy,
    gone: list[str],
) -> dict[str, int]:
    """A real run's repository with something to delete: its task runs while it does."""
    if not found.to_apply:
        return _counts()
    task = Task.objects.create(
        execution_id=context.execution_id,
        status=Status.RUNNING,
        start_time=found.evaluated_at,
        extra_attrs={"kind": "repository", "repository": found.repository},
        **_texts(_planned(found)),
    )
    log = _TaskLog(task.pk)
    try:
        counts = _apply(stopping, log, found, repository, policy, gone)
    except Stopped:
        Task.objects.filter(pk=task.pk).update(
            status=Status.STOPPED, end_time=timezone.now(), **log.unwritten()
        )
        raise
    Task.objects.filter(pk=task.pk).update(**_final(found, counts), **log.unwritten())
    return counts


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
    gone: list[str] = []
    stopping = _StopCheck(context)
    immutable_rules = active_rules(policy.project_id)  # each delete reads them again
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
            counts = _counts(
                deleted=sum(1 for d in found.decisions if d.delete),
                untagged=sum(len(d.deleted_tags) for d in found.decisions),
            )
        else:
            counts = _apply_in_task(context, stopping, found, repository, policy, gone)
        totals["repositories"] += 1
        totals["total"] += found.total
        totals["retained"] += found.total - counts["deleted"]
        for key in ("deleted", "untagged", "kept_meanwhile", "failed"):
            totals[key] += counts[key]
        if dry_run or not found.to_apply:
            _finished_task(context, found, counts)
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
