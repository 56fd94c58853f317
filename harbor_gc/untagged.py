"""`delete_untagged`: untagged artifacts go, but never an index child or a referrer
(signature, SBOM...) whose parent is kept.

The list is a snapshot: each candidate is deleted only if, with its row locked
(registry.deletion), it is still an untagged root older than the cutoff. A push that tagged
it meanwhile keeps it; a push that tags it later waits for the lock and records itself
again (docs/deletes.md)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from harbor_py.core.actor import Actor
from harbor_py.core.errors import DomainError
from jobs.context import JobContext, Stopped
from registry import deletion, selectors
from registry.models import Artifact, ArtifactReference, Tag

GC_USER = "harbor-gc"
GC = Actor.system(GC_USER)


def untagged_roots(cutoff: dt.datetime) -> QuerySet[Artifact]:
    has_tag = Exists(Tag.objects.filter(artifact_id=OuterRef("pk")))
    is_child = Exists(ArtifactReference.objects.filter(child_id=OuterRef("pk")))
    subject_kept = Exists(
        Artifact.objects.filter(
            repository_id=OuterRef("repository_id"), digest=OuterRef("subject_digest")
        )
    )
    return (
        Artifact.objects.filter(push_time__lt=cutoff)
        .exclude(has_tag)
        .exclude(is_child)
        .exclude(Q(~Q(subject_digest="")) & Q(subject_kept))
        .select_related("repository")
        .order_by("pk")
    )


def delete_untagged_artifacts(
    context: JobContext, cutoff: dt.datetime, *, dry_run: bool
) -> tuple[int, set[int]]:
    """Returns (count, ids): the artifacts deleted, or in a dry run those that would be
    (with the children and accessories that go with them), whose blobs then count as
    unreferenced."""
    candidates = untagged_roots(cutoff)
    if dry_run:
        doomed: set[int] = set()
        for artifact in candidates.iterator():
            doomed.update(a.pk for a in selectors.deletion_set(artifact) or [])
        context.log(
            f"dry run: {len(doomed)} untagged artifacts would be deleted",
            event="gc.untagged_dry_run",
            count=len(doomed),
        )
        return len(doomed), doomed
    deleted = 0

    def still_untagged(artifact: Artifact) -> bool:
        return untagged_roots(cutoff).filter(pk=artifact.pk).exists()

    for artifact in candidates.iterator():
        if context.should_stop():
            raise Stopped
        try:
            done = deletion.delete_artifact(
                artifact=artifact, actor=GC, still_wanted=still_untagged
            )
        except DomainError as exc:  # e.g. referenced meanwhile: keep it, go on
            context.log(
                f"kept {artifact.repository.name}@{artifact.digest}: {exc.message}",
                event="gc.kept",
                artifact=f"{artifact.repository.name}@{artifact.digest}",
                why=exc.message,
                why_key=exc.key,
                why_params=exc.params,
            )
            continue
        if not done:
            context.log(
                f"kept {artifact.repository.name}@{artifact.digest}: pushed again",
                event="gc.kept_pushed",
                artifact=f"{artifact.repository.name}@{artifact.digest}",
            )
            continue
        deleted += 1
        context.log(
            f"deleted untagged {artifact.repository.name}@{artifact.digest}",
            event="gc.untagged_deleted",
            artifact=f"{artifact.repository.name}@{artifact.digest}",
        )
    return deleted, set()
