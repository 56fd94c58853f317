"""The REPLICATION job: plan the artifacts of one policy run, one Task each, and copy
(or delete) them. Registered with jobs.registry in ReplicationConfig.ready."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, connections
from django.utils import timezone

from harbor_py.core.events import publish
from jobs.context import JobContext, Stopped
from jobs.models import Status, Task
from replication import filters
from replication.adapters.base import Inventory, RegistryAdapter, TransferError, open_adapter
from replication.copier import Copier, StopRequested
from replication.events import ReplicationFinished
from replication.local import LocalRegistry
from replication.models import ReplicationPolicy
from replication.selectors import CONTROLLER

STOP_POLL_SECONDS = 2.0
ARTIFACT_WORKERS = 3  # artifacts copied at once (each with copier.WORKERS blob streams)
INVENTORY_WORKERS = 8  # destination repositories listed at once (latency-bound)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    operation: str  # copy | deletion
    src_repo: str
    dst_repo: str
    digest: str
    tags: tuple[str, ...]
    accessories: tuple[str, ...] = ()  # known from the listing; copied in any case
    tag_only: bool = False  # a deletion of the tags, not of the artifact


def endpoints(policy: ReplicationPolicy) -> tuple[RegistryAdapter, RegistryAdapter]:
    def side(endpoint: Any) -> RegistryAdapter:
        return LocalRegistry() if endpoint is None else open_adapter(endpoint)

    return side(policy.src_registry), side(policy.dest_registry)


def plan(policy: ReplicationPolicy, source: Any, event: dict[str, Any] | None) -> list[Item]:
    rules = filters.parse(policy.filters)

    def target(repository: str) -> str:
        return filters.destination_repository(
            repository, policy.dest_namespace, policy.dest_namespace_replace_count
        )

    if event:
        repository = event["repository"]
        if not rules.repository(repository):
            return []
        if event["operation"] in ("delete", "delete_tag"):
            if not policy.replicate_deletion:
                return []
            tags = tuple(event.get("tags") or ())
            tag_only = event["operation"] == "delete_tag"
            if tag_only:
                tags = tuple(t for t in tags if rules.tag(t))
                if not tags:
                    return []
            elif rules.tags and tags and not any(rules.tag(t) for t in tags):
                return []
            item = Item("deletion", repository, target(repository), event["digest"], tags)
            return [replace(item, tag_only=tag_only)]
        # an accessory pushed later travels with its subject (which skips what is there)
        wanted = source.subject_of(repository, event["digest"]) or event["digest"]
        candidates = [(repository, [a for a in source.artifacts(repository) if a.digest == wanted])]
    else:
        repositories = [r for r in source.repositories() if rules.repository(r)]
        candidates = [(r, source.artifacts(r)) for r in repositories]
    items = []
    for repository, artifacts in candidates:
        for artifact in artifacts:
            if not rules.artifact(list(artifact.tags), set(artifact.labels)):
                continue
            tags = tuple(t for t in artifact.tags if rules.tag(t))
            items.append(
                Item(
                    "copy",
                    repository,
                    target(repository),
                    artifact.digest,
                    tags,
                    artifact.accessories,
                )
            )
    return items


def _namespace(repository: str) -> str:
    return repository.split("/", 1)[0]


def inventories(
    items: list[Item],
    destination: RegistryAdapter,
    context: JobContext,
    *,
    threaded: bool,
    new: set[str],
) -> dict[str, Inventory | None]:
    """What each destination repository of the copies holds, read once (one listing per
    repository instead of probes per artifact); None where it could not be read. Projects
    created by this run (`new`) and repositories their project does not list are empty
    without asking."""
    wanted = sorted({i.dst_repo for i in items if i.operation == "copy"})
    known: dict[str, Inventory | None] = {}
    for namespace in sorted({_namespace(r) for r in wanted}):
        inside = [r for r in wanted if _namespace(r) == namespace]
        existing = set() if namespace in new else _repositories_in(destination, namespace)
        for repository in inside:
            if existing is not None and repository not in existing:
                known[repository] = Inventory({}, set())

    def read(repository: str) -> Inventory | None:
        try:
            return destination.inventory(repository)
        except TransferError as exc:
            context.log(f"could not list {repository} at the destination: {exc}")
            return None
        finally:
            if threaded:
                connections.close_all()

    left = [r for r in wanted if r not in known]
    if not threaded or len(left) < 2:
        return known | {r: read(r) for r in left}
    with ThreadPoolExecutor(max_workers=INVENTORY_WORKERS) as pool:
        return known | dict(zip(left, pool.map(read, left), strict=True))


def _repositories_in(destination: RegistryAdapter, namespace: str) -> set[str] | None:
    try:
        return destination.repositories_in(namespace)
    except TransferError:
        return None


def outstanding(item: Item, policy: ReplicationPolicy, inventory: Inventory | None) -> Item | None:
    """The part of a copy still to do given the destination's inventory; None when the
    destination already has it (or, with override off, has every tag already)."""
    if item.operation != "copy" or inventory is None:
        return item
    if not policy.override and item.tags:
        tags = tuple(t for t in item.tags if t not in inventory.tags)
        if not tags:
            return None
        item = replace(item, tags=tags)
    if inventory.holds(item.digest, item.tags, item.accessories):
        return None
    return item


class _StopWatch:
    """Polls the execution's stop flag while a task copies, and tells the copier."""

    def __init__(self, context: JobContext, copier: Copier) -> None:
        self.context, self.copier = context, copier
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        try:
            while not self.done.wait(STOP_POLL_SECONDS):
                if self.context.should_stop():
                    self.copier.stop.set()
                    return
        finally:
            connections.close_all()

    def __enter__(self) -> _StopWatch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def _finish(task: Task, status: str, message: str = "") -> None:
    Task.objects.filter(pk=task.pk).update(
        status=status, status_message=message[:1000], end_time=timezone.now()
    )


def _copy(item: Item, policy: ReplicationPolicy, copier: Copier, log: JobContext) -> str:
    tags = item.tags
    if not policy.override and tags:
        tags = tuple(
            t for t in tags if copier.destination.manifest_digest(item.dst_repo, t) is None
        )
        if not tags:
            log.log(f"skipped: every tag exists at {item.dst_repo} and override is off")
            return "skipped"
    copier.manifest(item.src_repo, item.dst_repo, item.digest, tags, log=log.log)
    return "copied"


def _run_item(item: Item, task: Task, policy: ReplicationPolicy, copier: Copier, ctx: Any) -> None:
    log = JobContext(task.pk, ctx.execution_id, ctx.parameters)
    Task.objects.filter(pk=task.pk).update(
        status=Status.RUNNING, start_time=timezone.now(), run_count=1
    )
    what = f"{item.src_repo}@{item.digest} ({', '.join(item.tags) or 'untagged'})"
    log.log(f"{item.operation} {what} -> {item.dst_repo}")
    try:
        if item.operation == "deletion" and item.tag_only:
            for tag in item.tags:
                deleted = copier.destination.delete_tag(item.dst_repo, tag)
                log.log(f"tag {tag} " + ("deleted" if deleted else "already absent"))
        elif item.operation == "deletion":
            deleted = copier.destination.delete_manifest(item.dst_repo, item.digest)
            log.log("deleted" if deleted else "already absent at the destination")
        else:
            _copy(item, policy, copier, log)
    except StopRequested:
        log.log("stopped on request")
        _finish(task, Status.STOPPED, "stopped on request")
        raise
    except (TransferError, OSError) as exc:
        log.log(f"failed: {exc}")
        _finish(task, Status.ERROR, str(exc))
        return
    _finish(task, Status.SUCCESS)


def _ensure_namespaces(
    items: list[Item], destination: RegistryAdapter
) -> tuple[dict[str, str], set[str]]:
    """Create the destination projects first: (namespace -> why it failed, namespaces
    created now)."""
    failures: dict[str, str] = {}
    created: set[str] = set()
    for namespace in sorted({_namespace(i.dst_repo) for i in items if i.operation == "copy"}):
        try:
            if destination.ensure_namespace(namespace):
                created.add(namespace)
        except TransferError as exc:
            failures[namespace] = str(exc)
    return failures, created


def _fail_refused(
    pairs: list[tuple[Item, Task]], failures: dict[str, str], context: JobContext
) -> list[tuple[Item, Task]]:
    """The tasks of a project that could not be created fail here; the others are left."""
    runnable = []
    for item, task in pairs:
        failure = failures.get(_namespace(item.dst_repo))
        if item.operation == "copy" and failure:
            JobContext(task.pk, context.execution_id, {}).log(f"failed: {failure}")
            _finish(task, Status.ERROR, failure)
        else:
            runnable.append((item, task))
    return runnable


def _work(
    item: Item,
    task: Task,
    policy: ReplicationPolicy,
    copier: Copier,
    context: JobContext,
    *,
    threaded: bool,
) -> None:
    try:
        if not copier.stop.is_set():  # else it stays pending and is marked stopped
            _run_item(item, task, policy, copier, context)
    except StopRequested:
        copier.stop.set()
    except Exception as exc:  # a bug must not leave the task running
        logger.exception("replication task %s failed", task.pk)
        _finish(task, Status.ERROR, f"internal error: {exc}")
    finally:
        if threaded:
            connections.close_all()


def _task(context: JobContext, item: Item, done: bool) -> Task:
    what = "tag" if item.tag_only else "image"
    task = Task(
        execution_id=context.execution_id,
        extra_attrs={
            "operation": item.operation,
            "resource_type": what,
            "src_resource": f"{item.src_repo}:[{','.join(item.tags)}]",
            "dst_resource": f"{item.dst_repo}:[{','.join(item.tags)}]",
        },
    )
    if done:
        now = timezone.now()
        task.status, task.start_time, task.end_time = Status.SUCCESS, now, now
        task.log = f"{now.isoformat(timespec='seconds')} {item.dst_repo}@{item.digest} is "
        task.log += "already at the destination with its tags and accessories\n"
    return task


def run(context: JobContext) -> dict[str, Any]:
    outcome: dict[str, Any] = {"status": Status.ERROR, "total": 0, "failed": 0}
    try:
        results = _run(context, outcome)
    except Stopped:
        outcome["status"] = Status.STOPPED
        raise
    else:
        outcome["status"] = Status.SUCCESS
        return results
    finally:
        publish(
            ReplicationFinished(
                policy_id=context.parameters["policy_id"],
                execution_id=context.execution_id,
                status=str(outcome["status"]),
                total=int(outcome["total"]),
                failed=int(outcome["failed"]),
            )
        )


def _run(context: JobContext, outcome: dict[str, Any]) -> dict[str, Any]:
    policy = ReplicationPolicy.objects.select_related("src_registry", "dest_registry").get(
        pk=context.parameters["policy_id"]
    )
    Task.objects.filter(pk=context.task_id).update(extra_attrs={"kind": CONTROLLER})
    # A run redelivered after a lost worker starts over (copies skip what arrived).
    Task.objects.filter(execution_id=context.execution_id).exclude(pk=context.task_id).delete()
    source, destination = endpoints(policy)
    copier = Copier(source, destination, speed_kb=policy.speed, chunked=policy.copy_by_chunk)
    # Threads cannot share the caller's transaction (tests run inside one): sequential.
    threaded = not connection.in_atomic_block
    try:
        event = context.parameters.get("event")
        items = plan(policy, source, event)
        context.log(f"policy {policy.name}: {len(items)} artifacts to replicate")
        failures, created = _ensure_namespaces(items, destination)
        # A whole run compares with one listing per destination repository; an event's
        # single artifact is cheaper to probe.
        known = (
            {}
            if event
            # failed projects' tasks fail below: nothing to list there either
            else inventories(
                items, destination, context, threaded=threaded, new=created | set(failures)
            )
        )
        work = [outstanding(item, policy, known.get(item.dst_repo)) for item in items]
        tasks = Task.objects.bulk_create(
            [_task(context, item, todo is None) for item, todo in zip(items, work, strict=True)],
            batch_size=500,
        )
        pending = [(i, t) for i, t in zip(work, tasks, strict=True) if i is not None]
        context.log(f"{len(items) - len(pending)} already at the destination")
        runnable = _fail_refused(pending, failures, context)
        workers = ARTIFACT_WORKERS if threaded else 1
        with _StopWatch(context, copier):
            if workers == 1:
                for item, task in runnable:
                    if copier.stop.is_set() or context.should_stop():
                        raise Stopped
                    _work(item, task, policy, copier, context, threaded=False)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for pair in runnable:
                        pool.submit(_work, *pair, policy, copier, context, threaded=True)
        if copier.stop.is_set():
            raise Stopped
    except Stopped:
        Task.objects.filter(execution_id=context.execution_id, status=Status.PENDING).exclude(
            pk=context.task_id
        ).update(status=Status.STOPPED, end_time=timezone.now())
        raise
    finally:
        source.close()
        destination.close()
    failed = Task.objects.filter(execution_id=context.execution_id, status=Status.ERROR).count()
    outcome |= {"total": len(items), "failed": failed}
    results = {"total": len(items), "failed": failed, "unchanged": len(items) - len(pending)}
    results |= copier.stats
    context.log(f"done: {results}")
    if failed:
        raise RuntimeError(f"{failed} of {len(items)} artifacts failed")
    return results
