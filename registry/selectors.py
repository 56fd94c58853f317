"""Reads about repositories, artifacts and tags (the database is the source of truth)."""

from __future__ import annotations

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce, Collate

from harbor_py.core.db import fetch_all, fetch_one
from harbor_py.core.errors import not_found
from projects.models import Project
from registry.manifests import IMAGE_MANIFESTS, OCI_INDEX
from registry.models import Artifact, ArtifactReference, Blob, Label, Repository, Tag
from registry.names import is_digest, valid_repository_name


def _lexical_page(rows: QuerySet, *, last: str | None, limit: int | None) -> list[str]:
    """Names in byte order (the OCI spec's lexical order), after `last`, at most `limit`."""
    name = Collate(F("name"), "C") if connection.vendor == "postgresql" else F("name")
    rows = rows.annotate(lexical=name)
    if last:
        rows = rows.filter(lexical__gt=last)
    names = rows.order_by("lexical").values_list("name", flat=True)
    return list(names[:limit] if limit is not None else names)


def find_repository(name: str) -> Repository | None:
    """The repository, its project loaded. Read on every pull: plain SELECTs, as the other
    per-request lookups (harbor_py.core.db says why)."""
    repository = fetch_one(Repository, "name = %s", [name])
    if repository is not None:
        repository.project = fetch_one(Project, "id = %s", [repository.project_id])  # type: ignore[assignment]  # the foreign key guarantees the row
    return repository


def repository_in(project: Project, name: str) -> Repository:
    """The repository `name` of `project`; not found when there is none."""
    repository = None
    if valid_repository_name(name):
        repository = Repository.objects.filter(project=project, name=name).first()
    if repository is None:
        raise not_found(
            f"repository {name} not found", key="repository.not_found", params={"name": name}
        )
    return repository


def artifact_in(repository: Repository, reference: str) -> Artifact:
    """The artifact `reference` (tag or digest) names in `repository`; not found if none."""
    artifact, _ = resolve(repository, reference)
    if artifact is None:
        raise not_found(
            f"artifact {repository.name}:{reference} not found",
            key="artifact.not_found",
            params={"name": f"{repository.name}:{reference}"},
        )
    artifact.repository = repository
    return artifact


def find_tag(repository: Repository, name: str) -> Tag | None:
    return (
        Tag.objects.select_related("repository__project")
        .filter(repository=repository, name=name)
        .first()
    )


def tag_names(repository: Repository, *, last: str | None, limit: int | None) -> list[str]:
    return _lexical_page(Tag.objects.filter(repository=repository), last=last, limit=limit)


def repository_names(*, last: str | None, limit: int | None) -> list[str]:
    return _lexical_page(Repository.objects.all(), last=last, limit=limit)


def is_referenced_by_index(artifact: Artifact) -> bool:
    return artifact.referenced_by.exists()


def resolve(repository: Repository, reference: str) -> tuple[Artifact | None, Tag | None]:
    """The artifact a tag or digest names, and the tag when it was a tag."""
    if is_digest(reference):
        where = "repository_id = %s AND digest = %s"
        found = fetch_one(Artifact, where, [repository.pk, reference])
        if found is not None:
            found.repository = repository
        return found, None
    tag = fetch_one(Tag, "repository_id = %s AND name = %s", [repository.pk, reference])
    if tag is None:
        return None, None
    artifact = fetch_one(Artifact, "id = %s", [tag.artifact_id])
    if artifact is None:  # deleted between the two reads
        return None, None
    tag.repository = artifact.repository = repository
    tag.artifact = artifact
    return artifact, tag


def listable() -> Q:
    """Harbor's default artifact listing: accessories (artifacts with a subject) are shown
    under their subject, and an untagged child of an index under the index."""
    tagged = Exists(Tag.objects.filter(artifact=OuterRef("pk")))
    in_index = Exists(ArtifactReference.objects.filter(child=OuterRef("pk")))
    return Q(subject_digest="") & (Q(tagged) | ~Q(in_index))


def repositories_with_counts() -> QuerySet[Repository]:
    counted = (
        Artifact.objects.filter(listable(), repository=OuterRef("pk"))
        .order_by()
        .values("repository")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Repository.objects.annotate(
        artifact_count=Coalesce(Subquery(counted, output_field=IntegerField()), 0)
    )


def count_artifacts(repositories: list[Repository]) -> list[Repository]:
    """Set `artifact_count` on a page of repositories, in one query. Lists count after
    paginating: as an annotation, PostgreSQL computes the count for every row that OFFSET
    skips too, so deep pages of a large list got slower page by page."""
    counts = dict(
        Artifact.objects.filter(listable(), repository__in=[r.pk for r in repositories])
        .order_by()
        .values("repository")
        .annotate(n=Count("pk"))
        .values_list("repository", "n")
    )
    for repository in repositories:
        repository.artifact_count = counts.get(repository.pk, 0)  # type: ignore[attr-defined]  # read by RepositorySerializer
    return repositories


def artifacts_with_details(
    artifacts: QuerySet[Artifact], *, with_tag: bool, with_label: bool
) -> QuerySet[Artifact]:
    """Everything an Artifact body needs, in a fixed number of queries for any page size."""
    related: list[str | Prefetch] = [
        Prefetch("references", queryset=ArtifactReference.objects.order_by("pk"))
    ]
    if with_tag:
        related.append(Prefetch("tags", queryset=Tag.objects.order_by("-push_time", "-pk")))
    if with_label:
        related.append(Prefetch("labels", queryset=Label.objects.order_by("pk")))
    return artifacts.select_related("repository").prefetch_related(*related)


def accessories_of(artifacts: list[Artifact]) -> dict[tuple[int, str], list[Artifact]]:
    """Accessories (artifacts whose subject is one of `artifacts`), in one query."""
    if not artifacts:
        return {}
    found: dict[tuple[int, str], list[Artifact]] = {}
    rows = (
        Artifact.objects.select_related("repository")
        .filter(
            repository_id__in={a.repository_id for a in artifacts},
            subject_digest__in={a.digest for a in artifacts},
        )
        .order_by("-push_time", "-pk")
    )
    for row in rows:
        found.setdefault((row.repository_id, row.subject_digest), []).append(row)
    return found


def manifest_sizes(artifacts: list[Artifact]) -> dict[str, int]:
    digests = {a.digest for a in artifacts}
    return dict(Blob.objects.filter(digest__in=digests).values_list("digest", "size"))


def _referrer_descriptor(artifact: Artifact, size: int) -> dict[str, object]:
    descriptor: dict[str, object] = {
        "mediaType": artifact.manifest_media_type,
        "digest": artifact.digest,
        "size": size,
    }
    # The spec: the manifest's artifactType, else an image manifest's config media type.
    if artifact.artifact_type:
        descriptor["artifactType"] = artifact.artifact_type
    elif artifact.manifest_media_type in IMAGE_MANIFESTS:
        descriptor["artifactType"] = artifact.media_type
    if artifact.annotations:
        descriptor["annotations"] = artifact.annotations
    return descriptor


def referrers_index(
    repository: Repository, digest: str, artifact_type: str | None
) -> dict[str, object]:
    """The image index of the manifests in `repository` whose subject is `digest`."""
    rows = Artifact.objects.filter(repository=repository, subject_digest=digest)
    if artifact_type:
        rows = rows.filter(
            Q(artifact_type=artifact_type)
            | Q(artifact_type="", media_type=artifact_type, manifest_media_type__in=IMAGE_MANIFESTS)
        )
    found = list(rows.order_by("pk"))
    sizes = manifest_sizes(found)
    return {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [_referrer_descriptor(a, sizes.get(a.digest, 0)) for a in found],
    }


_REFERENCED = "SELECT 1 FROM artifact_reference WHERE child_id = %s LIMIT 1"
_CHILDREN = "id IN (SELECT child_id FROM artifact_reference WHERE parent_id = %s)"
_KEPT = (
    "SELECT EXISTS (SELECT 1 FROM tag WHERE artifact_id = %s) OR EXISTS (SELECT 1 FROM "
    "artifact_reference WHERE child_id = %s AND parent_id NOT IN ({doomed}))"
)


def deletion_set(root: Artifact) -> list[Artifact] | None:
    """What deleting `root` removes, as Harbor's deleteDeeply: the root, its accessories,
    and the children that no tag and no other index keeps. None when an index still
    references the root (it has to be deleted first). Read on cursors (harbor_py.core.db):
    every delete runs this, a retention run thousands of times."""
    with connection.cursor() as cursor:
        cursor.execute(_REFERENCED, [root.pk])
        if cursor.fetchone() is not None:
            return None
    doomed: dict[int, Artifact] = {}
    pending: list[tuple[Artifact, bool]] = [(root, True)]
    while pending:
        artifact, forced = pending.pop()
        if artifact.pk in doomed:
            continue
        if not forced:
            others = list(doomed)
            with connection.cursor() as cursor:
                cursor.execute(
                    _KEPT.format(doomed=", ".join(["%s"] * len(others))),
                    [artifact.pk, artifact.pk, *others],
                )
                if cursor.fetchone()[0]:
                    continue
        doomed[artifact.pk] = artifact
        # its accessories (forced: they go with it), then its children (if nothing keeps
        # them); two statements, each on its index (an OR of the two scanned the table)
        accessories = fetch_all(
            Artifact,
            "repository_id = %s AND subject_digest = %s",
            [artifact.repository_id, artifact.digest],
        )
        pending.extend((accessory, True) for accessory in accessories)
        children = fetch_all(Artifact, _CHILDREN, [artifact.pk])
        pending.extend((child, False) for child in children)
    return list(doomed.values())
