"""Writes about retention policies: create, update, delete (one per project, named by the
project's metadata `retention_id`), runs and stops. Each runs in one transaction with its
audit record; the schedule is a django-celery-beat task, as every job's."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_celery_beat.models import PeriodicTask

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, conflict
from jobs import services as job_services
from jobs.models import Execution, Status, Trigger
from projects.models import Project
from retention.models import RetentionPolicy
from retention.rules import clean_rules, clean_trigger
from retention.runs import VENDOR

SCHEDULE_TASK = "retention.tasks.run_scheduled_policy"
PER_TAG = "or-per-tag"


def _record(policy: RetentionPolicy, project: Project, actor: Actor, operation: str) -> None:
    cron = policy.trigger.get("settings", {}).get("cron") or "none"
    record(
        actor=actor,
        operation=operation,
        resource_type="retention_policy",
        resource=str(policy.pk),
        project_id=project.pk,
        project_name=project.name,
        description=f"{len(policy.rules)} rules, schedule {cron}"
        + (", untag only" if policy.untag_only else ""),
    )


def _schedule(policy: RetentionPolicy) -> None:
    """One beat task per policy with a cron; none without."""
    policy.periodic_task = job_services.replace_beat_task(
        policy.periodic_task_id,
        name=f"harbor-retention-policy-{policy.pk}",
        task=SCHEDULE_TASK,
        cron=policy.trigger.get("settings", {}).get("cron") or "",
        args=[policy.pk],
    )
    RetentionPolicy.objects.filter(pk=policy.pk).update(periodic_task=policy.periodic_task)


def _set_metadata(project: Project, policy_id: int | None) -> None:
    locked = Project.objects.select_for_update().get(pk=project.pk)
    metadata = dict(locked.metadata)
    if policy_id is None:
        metadata.pop("retention_id", None)
    else:
        metadata["retention_id"] = str(policy_id)
    Project.objects.filter(pk=project.pk).update(metadata=metadata)
    project.metadata = metadata


def _apply(policy: RetentionPolicy, data: dict[str, Any]) -> None:
    """Harbor's body. `algorithm` "or" is Harbor's (an artifact is retained if any rule
    retains it); "or-per-tag" (harbor-py) applies it to each tag: only the tags no rule
    retains go (`untag_only`, which the UI may pass instead)."""
    untag = data.get("untag_only")
    if untag is not None and not isinstance(untag, bool):
        raise bad_request("untag_only must be true or false")
    algorithm = data.get("algorithm") or (PER_TAG if untag else "or")
    if algorithm not in ("or", PER_TAG):
        raise bad_request(f'algorithm must be "or" or "{PER_TAG}"')
    scope = data.get("scope")
    if scope is not None and (
        not isinstance(scope, dict) or scope.get("level", "project") != "project"
    ):
        raise bad_request('scope.level must be "project"')
    policy.rules = clean_rules(data.get("rules") or [])
    policy.trigger = clean_trigger(data.get("trigger"))
    policy.algorithm = algorithm
    policy.untag_only = algorithm == PER_TAG


@transaction.atomic
def create_policy(*, project: Project, data: dict[str, Any], actor: Actor) -> RetentionPolicy:
    """Harbor: only while the project has no policy."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if RetentionPolicy.objects.filter(project=project).exists():
        raise conflict(
            f"project {project.name} already has a retention policy", key="retention.exists"
        )
    policy = RetentionPolicy(project=project)
    _apply(policy, data)
    policy.save()
    _schedule(policy)
    _set_metadata(project, policy.pk)
    _record(policy, project, actor, "create")
    return policy


@transaction.atomic
def update_policy(
    *, policy: RetentionPolicy, data: dict[str, Any], actor: Actor
) -> RetentionPolicy:
    # One update at a time, each replacing the beat task the one before it made (its name
    # is the policy's): read unlocked, two deleted the same old task and both created one.
    locked = RetentionPolicy.objects.select_for_update().get(pk=policy.pk)
    policy.periodic_task_id = locked.periodic_task_id
    _apply(policy, data)
    policy.save()
    _schedule(policy)
    _record(policy, policy.project, actor, "update")
    return policy


def _active(policy: RetentionPolicy) -> Any:
    return Execution.objects.filter(
        vendor_type=VENDOR, vendor_id=policy.pk, status__in=[Status.PENDING, Status.RUNNING]
    )


@transaction.atomic
def delete_policy(*, policy: RetentionPolicy, actor: Actor) -> None:
    if _active(policy).exists():
        raise DomainError(
            Code.PRECONDITION, "the retention policy has a run in progress", key="retention.running"
        )
    if policy.periodic_task_id:
        PeriodicTask.objects.filter(pk=policy.periodic_task_id).delete()
    project = policy.project
    _record(policy, project, actor, "delete")
    policy.delete()
    _set_metadata(project, None)


def start(
    *, policy: RetentionPolicy, dry_run: bool, actor: Actor, trigger: str = Trigger.MANUAL
) -> Execution:
    """One run of the policy (409 while another of the same policy is unfinished)."""
    return job_services.start_execution(
        vendor_type=VENDOR,
        vendor_id=policy.pk,
        parameters={"policy_id": policy.pk, "dry_run": dry_run},
        trigger=trigger,
        actor=actor,
    )


def stop(*, execution: Execution, actor: Actor) -> None:
    job_services.request_stop(execution, actor=actor)
