"""Reads about repositories, artifacts and tags (the database is the source of truth)."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Collate

from registry.models import Artifact, Repository, Tag
from registry.names import is_digest


def _lexical_page(rows: QuerySet, *, last: str | None, limit: int | None) -> list[str]:
    """Names in byte order (the OCI spec's lexical order), after `last`, at most `limit`."""
    name = Collate(F("name"), "C") if connection.vendor == "postgresql" else F("name")
    rows = rows.annotate(lexical=name)
    if last:
        rows = rows.filter(lexical__gt=last)
    names = rows.order_by("lexical").values_list("name", flat=True)
    return list(names[:limit] if limit is not None else names)


def find_repository(name: str) -> Repository | None:
    return Repository.objects.select_related("project").filter(name=name).first()


def resolve_reference(repository: Repository, reference: str) -> Artifact | None:
    if is_digest(reference):
        return Artifact.objects.filter(repository=repository, digest=reference).first()
    tag = (
        Tag.objects.select_related("artifact").filter(repository=repository, name=reference).first()
    )
    return tag.artifact if tag else None


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
