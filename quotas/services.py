"""Writes about quotas. Each runs in one transaction with its audit record."""

from __future__ import annotations

from django.db import transaction

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request
from projects.models import Project
from quotas import selectors, usage
from quotas.models import Quota
from quotas.options import MAX_BYTES


def validate_hard(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= MAX_BYTES:
        raise bad_request(
            "the storage limit must be -1 (unlimited) or a number of bytes", key="quota.invalid"
        )
    return value


@transaction.atomic
def set_storage_limit(*, project: Project, hard: int, actor: Actor) -> Quota:
    hard = validate_hard(hard)
    locked = usage.lock(project.pk)
    Quota.objects.filter(pk=locked.id).update(hard=hard)
    record(
        actor=actor,
        operation="update",
        resource_type="project",
        resource=project.name,
        project_id=project.pk,
        project_name=project.name,
        description=f"storage limit {hard}",
    )
    return Quota.objects.get(pk=locked.id)


@transaction.atomic
def recalculate(*, project: Project) -> tuple[int, int]:
    """(usage before, usage after) of one project, from its references."""
    locked = usage.lock(project.pk)
    return locked.used, usage.recompute(locked)


def quota_of(project: Project) -> Quota:
    quota = selectors.project_quota(project.pk)
    if quota is None:
        recalculate(project=project)
        quota = Quota.objects.get(project=project)
    return quota


def ensure_quotas() -> None:
    """Projects without a quota row (created before quotas existed, or by a path that
    skipped it) get one, with their usage computed."""
    for project in selectors.projects_without_quota():
        recalculate(project=project)
