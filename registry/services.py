"""Writes to the registry's bookkeeping. Each runs in one transaction with its audit record."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import Entry, record, record_entries
from harbor_gc.storage import storage_from_settings
from harbor_py.core import cascade
from harbor_py.core.actor import Actor
from harbor_py.core.db import fetch_all
from harbor_py.core.errors import DomainError, bad_request, conflict, not_found
from harbor_py.core.events import publish
from immutable.enforcement import check_move, check_tags
from projects.models import Project
from quotas import usage
from registry import locks, push
from registry.events import ArtifactDeleted, TagDeleted
from registry.image_config import ImageConfig
from registry.manifests import ParsedManifest
from registry.models import (
    Artifact,
    ArtifactLabel,
    Label,
    Repository,
    Tag,
)
from registry.names import is_tag

logger = logging.getLogger(__name__)


@push.quota_exceeded_published  # after this transaction rolled back
@transaction.atomic
def record_manifest_push(
    *,
    project: Project,
    repository_name: str,
    parsed: ParsedManifest,
    tag: str | None,
    actor: Actor,
    image_config: ImageConfig | None = None,
) -> Artifact:
    """Both phases of registry.push in one transaction, for pushes that distribution has
    already accepted (copies, fixtures)."""
    reservation = push.reserve(
        project=project,
        repository_name=repository_name,
        parsed=parsed,
        tag=tag,
        image_config=image_config,
        config_read=image_config is not None,
    )
    return push.complete(reservation=reservation, tag=tag, actor=actor)


@transaction.atomic
def delete_tag(
    *, tag: Tag, actor: Actor, unchanged_since: dt.datetime | None = None, reason: str = ""
) -> None:
    """`unchanged_since` (a deleter that decided on a snapshot, retention): the artifact
    is locked as deleters lock it (a push that re-tags it waits, docs/deletes.md) and the
    tag goes only if no push wrote it after that time; else not found."""
    repository = tag.repository
    project = repository.project
    resource = f"{repository.name}:{tag.name}"
    check_tags(project_id=project.pk, repository_name=repository.name, tags=[tag.name])
    digest = tag.artifact.digest
    publish(TagDeleted(project.name, repository.name, tag.name, digest, actor.username))
    # Only while it points where the caller saw it: a push may have moved it since.
    doomed = Tag.objects.filter(pk=tag.pk, artifact_id=tag.artifact_id)
    if unchanged_since is not None:
        locks.for_delete([tag.artifact_id])
        doomed = doomed.filter(push_time__lte=unchanged_since)
    deleted, _ = doomed.delete()
    if not deleted:
        raise not_found(f"tag {tag.name} of {repository.name} was moved or deleted meanwhile")
    name = tag.name
    transaction.on_commit(lambda: _forget_stored_tag(repository.name, name))
    record(
        actor=actor,
        operation="delete",
        resource_type="tag",
        resource=resource,
        project_id=project.pk,
        project_name=project.name,
        description=reason,
    )


def _forget_stored_tag(repository: str, tag: str) -> None:
    """distribution 2.8 refuses tag DELETEs, so a deleted tag's link goes from storage
    directly (as registry_fsck --repair does): a look-up by tag in distribution (the
    replication override check) no longer finds it, and fsck sees no stale tag. Pulls
    resolve tags in the database, so a push that re-wrote the tag meanwhile loses nothing."""
    try:
        storage_from_settings().delete_tag(repository, tag)
    except Exception:  # best effort: fsck --repair removes what is left
        logger.warning("could not remove the stored tag %s:%s", repository, tag, exc_info=True)


def _record(
    *,
    repository: Repository,
    actor: Actor,
    operation: str,
    resource_type: str,
    resource: str,
    description: str = "",
) -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type=resource_type,
        resource=resource,
        project_id=repository.project_id,
        project_name=repository.name.split("/", 1)[0],
        description=description,
    )


@transaction.atomic(savepoint=False)  # inside the deleter's transaction: nothing to undo alone
def delete_artifacts(
    *, root: Artifact, artifacts: list[Artifact], actor: Actor, reason: str = ""
) -> None:
    """The database side of deleting `root` deeply (its manifests are already gone from
    storage): the root, the children and accessories that went with it, their tags and
    labels, and every row that references them. Blobs stay for garbage collection."""
    # Lock first (artifacts before the quota row, the order a push takes them in): a
    # concurrent writer of rows that reference these artifacts (the config reader adding a
    # build history, a push pinning one) then waits for us instead of breaking the delete.
    locks.for_delete([a.pk for a in artifacts])
    tags = tuple(sorted(t.name for t in fetch_all(Tag, "artifact_id = %s", [root.pk])))
    blobs = unlink([(root, artifacts, tags)], actor=actor, reason=reason)
    finish(root.repository.project_id, [a.pk for a in artifacts], blobs)


def unlink(
    sets: list[tuple[Artifact, list[Artifact], tuple[str, ...]]], *, actor: Actor, reason: str = ""
) -> list[tuple[int, int]]:
    """The first part of deleting these roots (each with its deletion set, its tags, every
    row locked by the caller), inside the caller's transaction: one audit record and one
    event per root, and every row that references the artifacts but their tags, in one
    statement per table; the blobs (id, size) they referenced, for `finish`. After it, a
    deletion set read in the same transaction no longer sees these artifacts' references
    (registry.deletion.delete_artifacts: an index that shares a child with one deleted
    before it in the batch takes the child)."""
    entries = []
    for root, artifacts, tags in sets:
        repository = root.repository
        project = repository.name.split("/", 1)[0]
        publish(ArtifactDeleted(project, repository.name, root.digest, tags, actor.username))
        others = len(artifacts) - 1
        entries.append(
            Entry(
                username=actor.username,
                operation="delete",
                resource_type="artifact",
                resource=f"{repository.name}@{root.digest}",
                project_id=repository.project_id,
                project_name=project,
                description="; ".join(
                    part
                    for part in (
                        reason,
                        f"with {others} child or accessory artifacts" if others else "",
                    )
                    if part
                ),
                client_address=actor.client_address,
            )
        )
    record_entries(entries)
    ids = [a.pk for _, artifacts, _ in sets for a in artifacts]
    blobs = usage.referenced_blobs(ids)
    cascade.delete(Artifact, ids, but=(Tag, Artifact))
    return blobs


def finish(project_id: int, ids: list[int], blobs: list[tuple[int, int]]) -> None:
    """The last part, the quota row as late as it can be: every row that references the
    artifacts went first (`unlink`), their blob references with them; now the quota row
    is locked and adjusted; then the tags (a push holding the quota row may be writing one
    of them: it must not wait for us, quotas.usage's notes) and the artifact rows. The
    row is held from there to the commit."""
    usage.released(project_id, list(dict(blobs).items()))  # a blob of two roots once
    cascade.delete(Artifact, ids, only=(Tag, Artifact))


@transaction.atomic
def update_repository(*, repository: Repository, description: str, actor: Actor) -> Repository:
    repository.description = description
    repository.save(update_fields=["description", "update_time"])
    _record(
        repository=repository,
        actor=actor,
        operation="update",
        resource_type="repository",
        resource=repository.name,
    )
    return repository


@transaction.atomic
def delete_repository(*, repository: Repository, actor: Actor) -> None:
    """The database side (storage has already dropped every manifest of the repository)."""
    with usage.recomputed(repository.project_id):
        repository.delete()
    _record(
        repository=repository,
        actor=actor,
        operation="delete",
        resource_type="repository",
        resource=repository.name,
    )


@transaction.atomic
def create_tag(*, artifact: Artifact, name: str, actor: Actor) -> Tag:
    if not is_tag(name):
        raise bad_request(
            f"invalid tag name {name!r}", key="tag.name_invalid", params={"tag": name}
        )
    repository = artifact.repository
    if Tag.objects.filter(repository=repository, name=name).exists():
        raise conflict(
            f"tag {name} already exists in {repository.name}",
            key="tag.exists",
            params={"tag": name, "repository": repository.name},
        )
    try:
        with transaction.atomic():
            tag = Tag.objects.create(repository=repository, artifact=artifact, name=name)
    except IntegrityError:
        raise conflict(
            f"tag {name} already exists in {repository.name}",
            key="tag.exists",
            params={"tag": name, "repository": repository.name},
        ) from None
    _record(
        repository=repository,
        actor=actor,
        operation="create",
        resource_type="tag",
        resource=f"{repository.name}:{name}",
    )
    return tag


def attach_tags(*, artifact: Artifact, names: list[str], actor: Actor) -> None:
    """Point each tag at `artifact`, moving it if the repository had it elsewhere."""
    current = dict(
        Tag.objects.filter(repository=artifact.repository, name__in=names).values_list(
            "name", "artifact__digest"
        )
    )
    for name in names:
        check_move(
            project_id=artifact.repository.project_id,
            repository_name=artifact.repository.name,
            tag=name,
            current=current.get(name),
            new=artifact.digest,
        )
    for name in names:
        with transaction.atomic():
            Tag.objects.update_or_create(
                repository=artifact.repository,
                name=name,
                defaults={"artifact": artifact, "push_time": timezone.now()},
            )
            _record(
                repository=artifact.repository,
                actor=actor,
                operation="create",
                resource_type="tag",
                resource=f"{artifact.repository.name}:{name}",
            )


def _label_attached(label: Label) -> DomainError:
    return conflict(
        f"label {label.pk} is already added to the artifact",
        key="label.attached_already",
        params={"name": label.name},
    )


@transaction.atomic
def add_label(*, artifact: Artifact, label: Label, actor: Actor) -> None:
    repository = artifact.repository
    if label.scope == Label.Scope.PROJECT and label.project_id != repository.project_id:
        raise not_found(f"label {label.pk} not found")  # as a missing one: no leak
    if ArtifactLabel.objects.filter(artifact=artifact, label=label).exists():
        raise _label_attached(label)
    try:
        with transaction.atomic():
            ArtifactLabel.objects.create(artifact=artifact, label=label)
    except IntegrityError:
        raise _label_attached(label) from None
    _record(
        repository=repository,
        actor=actor,
        operation="create",
        resource_type="artifact_label",
        resource=f"{repository.name}@{artifact.digest}",
        description=f"label {label.name}",
    )


@transaction.atomic
def remove_label(*, artifact: Artifact, label_id: int, actor: Actor) -> None:
    deleted, _ = ArtifactLabel.objects.filter(artifact=artifact, label_id=label_id).delete()
    if not deleted:
        raise not_found(f"label {label_id} is not added to the artifact")
    _record(
        repository=artifact.repository,
        actor=actor,
        operation="delete",
        resource_type="artifact_label",
        resource=f"{artifact.repository.name}@{artifact.digest}",
        description=f"label {label_id}",
    )
