"""A retention run's writes: the deletes and tag removals of a real run, and every
repository's task (retention.runs decides, this module applies).

Deletes go in batches of DELETE_BATCH artifacts across the repositories of the project
(Harbor's small set deletes one artifact in each of 10,000 repositories): a batch is one
transaction of registry.deletion.delete_artifacts, which locks its artifacts, re-checks
each on its locked row (its tags are those evaluated and none was pushed since: a push
that re-tagged it first keeps it, one that comes while it is locked waits and records
itself again, docs/deletes.md), and deletes those still wanted with one set of
statements: one audit INSERT, one quota UPDATE, one DELETE per table. Between batches the
run checks for a stop and rests (`pace`).

A repository's task is written once, when it is finished, and the finished tasks in one
INSERT per TASK_BATCH (a dry run writes 10,000 of them); a repository whose deletes span
more than one batch gets its task (running) after its first batch, so that a long run
shows it, and its log grows every LOG_SECONDS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.db.models import Value
from django.db.models.functions import Concat
from django.utils import timezone

from harbor_py.core import env
from harbor_py.core.actor import Actor
from harbor_py.core.db import fetch_all, insert
from harbor_py.core.errors import Code, DomainError
from jobs.context import JobContext, Stopped
from jobs.models import Status, Task
from registry import deletion, services
from registry.models import Artifact, Repository, Tag
from retention.evaluation import Decision, Plan
from retention.models import RetentionPolicy

RETENTION_USER = "harbor-retention"
RETENTION = Actor.system(RETENTION_USER)
DELETE_BATCH = 25
TASK_BATCH = 100
LOG_SECONDS = 2.0
DEFAULT_PACE = "2"


def pace() -> float:
    """How long the run rests after a batch of deletes, as a multiple of its time."""
    try:
        return max(0.0, float(env.get("HARBOR_RETENTION_PACE", DEFAULT_PACE)))
    except ValueError:
        return float(DEFAULT_PACE)


def _rest(started: float, factor: float) -> None:
    if factor:
        time.sleep(factor * (time.monotonic() - started))


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


def planned(found: Plan) -> list[Line]:
    """The plan's lines with their records, line for line."""
    return [
        (line, event, params)
        for line, (event, params) in zip(found.lines(), found.records(), strict=True)
    ]


def _why(exc: DomainError) -> dict[str, Any]:
    """A refusal's reason for a record: its words, and its key where it has one."""
    return {"why": exc.message, "why_key": exc.key, "why_params": exc.params or {}}


def counts(**given: int) -> dict[str, int]:
    return {"deleted": 0, "untagged": 0, "kept_meanwhile": 0, "failed": 0, **given}


def _final(found: Plan, counted: dict[str, int]) -> dict[str, Any]:
    """A repository task's final columns but its log."""
    return {
        "status": Status.ERROR if counted["failed"] else Status.SUCCESS,
        "end_time": timezone.now(),
        "extra_attrs": {
            "kind": "repository",
            "repository": found.repository,
            "total": found.total,
            "retained": found.total - counted["deleted"],
            **counted,
        },
    }


class Tasks:
    """The repositories' tasks of one execution, written TASK_BATCH to an INSERT."""

    def __init__(self, execution_id: int) -> None:
        self.execution_id, self.pending = execution_id, list[Task]()

    def finished(self, found: Plan, counted: dict[str, int], lines: list[Line]) -> None:
        self.pending.append(
            Task(
                execution_id=self.execution_id,
                start_time=found.evaluated_at,
                **_texts(lines),
                **_final(found, counted),
            )
        )
        if len(self.pending) >= TASK_BATCH:
            self.write()

    def write(self) -> None:
        insert(self.pending)
        self.pending = []


class _Unchanged:
    """The re-check on the locked row: the artifact's tags are what the plan saw, and
    none was pushed (again) since."""

    def __init__(self, decision: Decision, found: Plan) -> None:
        self.tags, self.since = set(decision.tags), found.evaluated_at

    def __call__(self, tags: list[Tag]) -> bool:
        return {t.name for t in tags} == self.tags and all(t.push_time <= self.since for t in tags)


class _Open:
    """A real run's repository not finished yet: its counts, the log lines not written,
    its task once it has one (its deletes span batches)."""

    def __init__(self, found: Plan, repository: Repository) -> None:
        self.found, self.repository = found, repository
        self.counts, self.lines, self.waiting = counts(), planned(found), 0
        self.task_id: int | None = None

    def log_change(self) -> dict[str, Any]:
        """The update of the log and its records (JobContext.unwritten's shape)."""
        if not self.lines:
            return {}
        texts, self.lines = _texts(self.lines), []
        return {column: Concat(column, Value(text)) for column, text in texts.items()}


class Deleter:
    """Applies a real run's plans: add() each repository's, then flush(); stopped() when
    the run stops. `finished(plan, counts)` is told of each repository when it is done."""

    def __init__(
        self,
        context: JobContext,
        tasks: Tasks,
        stopping: Callable[[], bool],
        policy: RetentionPolicy,
        finished: Callable[[Plan, dict[str, int]], None],
    ) -> None:
        self.context, self.tasks, self.stopping, self.finished = context, tasks, stopping, finished
        self.reason = f"retention policy {policy.pk}: retained by no rule"
        self.untag_reason = f"retention policy {policy.pk}: tag retained by no rule"
        self.factor, self.gone = pace(), list[str]()
        self.queue: list[tuple[_Open, Decision]] = []
        self.open: dict[int, _Open] = {}
        self.log_due = 0.0

    def add(self, found: Plan, repository: Repository) -> None:
        """A repository with something to apply: its tags to remove go now, its
        artifacts join the queue."""
        state = self.open[id(found)] = _Open(found, repository)
        self._untag(state)
        doomed = [d for d in found.decisions if d.delete]
        if not doomed:
            self._finish(state)
            return
        state.waiting = len(doomed)
        self.queue.extend((state, d) for d in doomed)
        while len(self.queue) >= DELETE_BATCH:
            self._batch()

    def flush(self) -> None:
        while self.queue:
            self._batch()

    def stopped(self) -> None:
        """The run stopped: every open repository's task says so."""
        for state in self.open.values():
            if state.task_id is None:
                self.tasks.pending.append(
                    Task(
                        execution_id=self.context.execution_id,
                        status=Status.STOPPED,
                        start_time=state.found.evaluated_at,
                        end_time=timezone.now(),
                        extra_attrs={"kind": "repository", "repository": state.found.repository},
                        **_texts(state.lines),
                    )
                )
            else:
                Task.objects.filter(pk=state.task_id).update(
                    status=Status.STOPPED, end_time=timezone.now(), **state.log_change()
                )
        self.open.clear()

    def _finish(self, state: _Open) -> None:
        del self.open[id(state.found)]
        if state.task_id is None:
            self.tasks.finished(state.found, state.counts, state.lines)
        else:
            Task.objects.filter(pk=state.task_id).update(
                **_final(state.found, state.counts), **state.log_change()
            )
        self.finished(state.found, state.counts)

    def _batch(self) -> None:
        if self.stopping():
            raise Stopped
        batch, self.queue = self.queue[:DELETE_BATCH], self.queue[DELETE_BATCH:]
        ids = [d.artifact_id for _, d in batch]
        rows = {
            a.pk: a for a in fetch_all(Artifact, f"id IN ({', '.join(['%s'] * len(ids))})", ids)
        }
        checks = {}
        for state, decision in batch:
            artifact = rows.get(decision.artifact_id)
            if artifact is not None:
                artifact.repository = state.repository
                checks[artifact.pk] = _Unchanged(decision, state.found)
        outcomes: dict[int, deletion.Outcome] = {}
        if checks:
            started = time.monotonic()
            try:
                outcomes = deletion.delete_artifacts(
                    artifacts=[rows[pk] for pk in checks],
                    actor=RETENTION,
                    still_wanted=lambda artifact, tags: checks[artifact.pk](tags),
                    reason=self.reason,
                )
            finally:
                _rest(started, self.factor)
        for state, decision in batch:
            self._outcome(state, decision, outcomes.get(decision.artifact_id))
            state.waiting -= 1
            if not state.waiting:
                self._finish(state)
        for state in self.open.values():  # spanning batches: its task, or its log so far
            if not state.waiting:
                continue
            if state.task_id is None:
                state.task_id = Task.objects.create(
                    execution_id=self.context.execution_id,
                    status=Status.RUNNING,
                    start_time=state.found.evaluated_at,
                    extra_attrs={"kind": "repository", "repository": state.found.repository},
                    **_texts(state.lines),
                ).pk
                state.lines = []
            elif state.lines and time.monotonic() >= self.log_due:
                # at most every LOG_SECONDS: each append rewrites the log (a repository of
                # 20,000 artifacts: 2 MB)
                Task.objects.filter(pk=state.task_id).update(**state.log_change())
                self.log_due = time.monotonic() + LOG_SECONDS

    def _outcome(self, state: _Open, decision: Decision, outcome: deletion.Outcome | None) -> None:
        counted, lines, repository = state.counts, state.lines, state.found.repository
        if outcome is None:
            lines.append(
                (
                    f"gone    {decision.digest}: deleted meanwhile",
                    "retention.gone",
                    {"digest": decision.digest},
                )
            )
        elif isinstance(outcome, DomainError):
            counted["failed" if outcome.code == Code.UNKNOWN else "kept_meanwhile"] += 1
            lines.append(
                (
                    f"KEPT    {decision.digest}: {outcome.message}",
                    "retention.kept",
                    {"digest": decision.digest, **_why(outcome)},
                )
            )
        elif outcome:
            counted["deleted"] += 1
            lines.append(
                (f"deleted {decision.digest}", "retention.deleted", {"digest": decision.digest})
            )
            self.gone.extend(
                [f"{repository}:{t}" for t in sorted(decision.tags)]
                or [f"{repository}@{decision.digest}"]
            )
        else:
            counted["kept_meanwhile"] += 1
            lines.append(
                (
                    f"KEPT    {decision.digest}: tagged or pushed during the run",
                    "retention.kept_changed",
                    {"digest": decision.digest},
                )
            )

    def _untag(self, state: _Open) -> None:
        """untag_only: the tags no rule retains, one locked delete each
        (registry.services.delete_tag with `unchanged_since`)."""
        found, counted, lines = state.found, state.counts, state.lines
        for decision in found.decisions:
            for name in () if decision.delete else decision.deleted_tags:
                if self.stopping():
                    raise Stopped
                tag = (
                    Tag.objects.select_related("repository__project", "artifact")
                    .filter(repository_id=found.repository_id, name=name)
                    .first()
                )
                if tag is None or tag.artifact_id != decision.artifact_id:
                    counted["kept_meanwhile"] += 1
                    lines.append(
                        (
                            f"KEPT    {found.repository}:{name}: moved or deleted meanwhile",
                            "retention.tag_moved",
                            {"tag": name},
                        )
                    )
                    continue
                started = time.monotonic()
                try:
                    services.delete_tag(
                        tag=tag,
                        actor=RETENTION,
                        unchanged_since=found.evaluated_at,
                        reason=self.untag_reason,
                    )
                except DomainError as exc:
                    counted["kept_meanwhile"] += 1
                    line = f"KEPT    {found.repository}:{name}: {exc.message}"
                    lines.append((line, "retention.tag_kept", {"tag": name, **_why(exc)}))
                    continue
                finally:
                    _rest(started, self.factor)
                counted["untagged"] += 1
                lines.append(
                    (f"untagged {found.repository}:{name}", "retention.untagged", {"tag": name})
                )
                self.gone.append(f"{found.repository}:{name}")
