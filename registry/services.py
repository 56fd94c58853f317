"""Writes to the registry's bookkeeping. Each runs in one transaction with its audit record."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import record
from projects.models import Project
from registry.manifests import ParsedManifest
from registry.models import Artifact, ArtifactBlob, ArtifactReference, Blob, Repository, Tag


def _ensure_blobs(parsed: ParsedManifest) -> list[Blob]:
    descriptors = parsed.blob_descriptors()
    Blob.objects.bulk_create(
        [Blob(digest=d.digest, size=d.size, content_type=d.media_type) for d in descriptors],
        ignore_conflicts=True,
    )
    return list(Blob.objects.filter(digest__in=[d.digest for d in descriptors]))


def _artifact_size(parsed: ParsedManifest, repository: Repository) -> int:
    if parsed.is_index:
        children = Artifact.objects.filter(
            repository=repository, digest__in=[c.digest for c in parsed.children]
        ).aggregate(total=Sum("size"))["total"]
        return parsed.size + (children or 0)
    return sum(d.size for d in parsed.blob_descriptors())


@transaction.atomic
def record_manifest_push(
    *,
    project: Project,
    repository_name: str,
    parsed: ParsedManifest,
    tag: str | None,
    username: str,
    client_address: str = "",
) -> Artifact:
    repository, _ = Repository.objects.get_or_create(
        name=repository_name, defaults={"project": project}
    )
    artifact, created = Artifact.objects.get_or_create(
        repository=repository,
        digest=parsed.digest,
        defaults={
            "type": parsed.artifact_kind,
            "media_type": parsed.config.media_type if parsed.config else parsed.media_type,
            "manifest_media_type": parsed.media_type,
            "artifact_type": parsed.artifact_type,
            "subject_digest": parsed.subject.digest if parsed.subject else "",
            "size": _artifact_size(parsed, repository),
            "annotations": parsed.annotations,
        },
    )
    if created:
        blobs = _ensure_blobs(parsed)
        ArtifactBlob.objects.bulk_create(
            [ArtifactBlob(artifact=artifact, blob=blob) for blob in blobs], ignore_conflicts=True
        )
        if parsed.children:
            children = {
                a.digest: a
                for a in Artifact.objects.filter(
                    repository=repository, digest__in=[c.digest for c in parsed.children]
                )
            }
            ArtifactReference.objects.bulk_create(
                [
                    ArtifactReference(
                        parent=artifact,
                        child=children.get(c.digest),
                        child_digest=c.digest,
                        platform=c.platform,
                        annotations=c.annotations,
                        urls=c.urls,
                    )
                    for c in parsed.children
                ],
                ignore_conflicts=True,
            )
    if tag:
        Tag.objects.update_or_create(
            repository=repository,
            name=tag,
            defaults={"artifact": artifact, "push_time": timezone.now()},
        )
    resource = f"{repository_name}:{tag}" if tag else f"{repository_name}@{parsed.digest}"
    record(
        username=username,
        operation="create",
        resource_type="artifact",
        resource=resource,
        project_id=project.pk,
        project_name=project.name,
        client_address=client_address,
    )
    return artifact


@transaction.atomic
def delete_artifact(*, artifact: Artifact, username: str, client_address: str = "") -> None:
    repository = artifact.repository
    project = repository.project
    resource = f"{repository.name}@{artifact.digest}"
    artifact.delete()
    record(
        username=username,
        operation="delete",
        resource_type="artifact",
        resource=resource,
        project_id=project.pk,
        project_name=project.name,
        client_address=client_address,
    )


@transaction.atomic
def delete_tag(*, tag: Tag, username: str, client_address: str = "") -> None:
    repository = tag.repository
    project = repository.project
    resource = f"{repository.name}:{tag.name}"
    tag.delete()
    record(
        username=username,
        operation="delete",
        resource_type="tag",
        resource=resource,
        project_id=project.pk,
        project_name=project.name,
        client_address=client_address,
    )
