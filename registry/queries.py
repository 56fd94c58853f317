"""Harbor's q= and sort= keys for repositories, artifacts, tags, accessories and labels.

Artifacts have three keys with their own rules (Harbor's artifact DAO):
  base=*          list every artifact, index children and accessories included
  tags=* | nil    tagged | untagged; tags=~v: a tag name contains v
  labels=(1 2)    carries all of these label ids ({1 2}: any of them; 1: that one)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from harbor_py.core.errors import bad_request
from harbor_py.core.query import (
    Field,
    Term,
    apply_query,
    apply_sort,
    apply_terms,
    as_int,
    as_time,
    parse_query,
)
from registry.models import Artifact, ArtifactLabel, Tag
from registry.selectors import listable

_TIME: dict[str, Any] = {"cast": as_time, "fuzzy": False, "ranged": True}
_ID: dict[str, Any] = {"cast": as_int, "fuzzy": False}

REPOSITORY_QUERY = {
    "id": Field("pk", **_ID),
    "name": Field("name"),
    "project_id": Field("project_id", **_ID),
    "pull_count": Field("pull_count", cast=as_int, fuzzy=False, ranged=True),
    "creation_time": Field("creation_time", **_TIME),
    "update_time": Field("update_time", **_TIME),
}
REPOSITORY_SORT = {
    "id": "pk",
    "name": "name",
    "pull_count": "pull_count",
    "creation_time": "creation_time",
    "update_time": "update_time",
}

ARTIFACT_QUERY = {
    "id": Field("pk", **_ID),
    "digest": Field("digest"),
    "type": Field("type"),
    "media_type": Field("media_type"),
    "manifest_media_type": Field("manifest_media_type"),
    "artifact_type": Field("artifact_type"),
    "repository_name": Field("repository__name"),
    "size": Field("size", cast=as_int, fuzzy=False, ranged=True),
    "push_time": Field("push_time", **_TIME),
    "pull_time": Field("pull_time", **_TIME),
}
ARTIFACT_SORT = {
    "id": "pk",
    "digest": "digest",
    "type": "type",
    "media_type": "media_type",
    "size": "size",
    "push_time": "push_time",
    "pull_time": "pull_time",
    "repository_name": "repository__name",
}

TAG_QUERY = {
    "id": Field("pk", **_ID),
    "name": Field("name"),
    "push_time": Field("push_time", **_TIME),
    "pull_time": Field("pull_time", **_TIME),
}
TAG_SORT = {"id": "pk", "name": "name", "push_time": "push_time", "pull_time": "pull_time"}

ACCESSORY_QUERY = {
    "digest": Field("digest"),
    "type": Field("artifact_type"),
    "size": Field("size", cast=as_int, fuzzy=False, ranged=True),
}
ACCESSORY_SORT = {"id": "pk", "size": "size", "creation_time": "push_time"}

LABEL_QUERY = {
    "id": Field("pk", **_ID),
    "name": Field("name"),
    "description": Field("description"),
    "color": Field("color"),
    "creation_time": Field("creation_time", **_TIME),
    "update_time": Field("update_time", **_TIME),
}
LABEL_SORT = {
    "id": "pk",
    "name": "name",
    "creation_time": "creation_time",
    "update_time": "update_time",
}


def _tags_condition(term: Term) -> Q:
    tagged = Exists(Tag.objects.filter(artifact=OuterRef("pk")))
    if term.kind == "fuzzy":
        return Q(
            Exists(Tag.objects.filter(artifact=OuterRef("pk"), name__icontains=term.values[0]))
        )
    if term.kind == "exact" and term.values[0] == "*":
        return Q(tagged)
    if term.kind == "exact" and term.values[0] == "nil":
        return ~Q(tagged)
    raise bad_request(
        'the value of "tags" query can only be fuzzy match value or exact match value '
        'with "*" and "nil"'
    )


def _labels_conditions(term: Term) -> list[Q]:
    if term.kind not in ("all", "any", "exact"):
        raise bad_request('the value of "labels" query can only be a list of label ids')
    ids = [as_int(value) for value in term.values]
    if term.kind == "any":
        return [Q(Exists(ArtifactLabel.objects.filter(artifact=OuterRef("pk"), label_id__in=ids)))]
    return [
        Q(Exists(ArtifactLabel.objects.filter(artifact=OuterRef("pk"), label_id=label_id)))
        for label_id in ids
    ]


def filter_artifacts(artifacts: QuerySet[Artifact], raw: str | None) -> QuerySet[Artifact]:
    terms = parse_query(raw)
    rest: list[Term] = []
    show_all = False
    for term in terms:
        if term.key == "base":
            if term.kind != "exact" or term.values[0] != "*":
                raise bad_request(
                    'the value of "base" query can only be exact match value with "*"'
                )
            show_all = True
        elif term.key == "tags":
            artifacts = artifacts.filter(_tags_condition(term))
        elif term.key == "labels":
            for condition in _labels_conditions(term):
                artifacts = artifacts.filter(condition)
        else:
            rest.append(term)
    if not show_all:
        artifacts = artifacts.filter(listable())
    return apply_terms(artifacts, rest, ARTIFACT_QUERY)


def latest_in_repository(artifacts: QuerySet[Artifact], raw: str | None) -> QuerySet[Artifact]:
    """Only the most recently pushed matching artifact of each repository; Harbor allows it
    only with exactly one of media_type and artifact_type in q=."""
    keys = {term.key for term in parse_query(raw)}
    if len(keys & {"media_type", "artifact_type"}) != 1:
        raise bad_request(
            "either 'media_type' or 'artifact_type' must be specified, but not both, "
            "when querying with latest_in_repository"
        )
    latest = artifacts.filter(repository=OuterRef("repository")).order_by("-push_time", "-pk")
    return artifacts.filter(pk=Subquery(latest.values("pk")[:1]))


def sort_artifacts(artifacts: QuerySet[Artifact], raw: str | None) -> QuerySet[Artifact]:
    return apply_sort(artifacts, raw, ARTIFACT_SORT, default=["-push_time"])


@dataclass(frozen=True)
class Keys:
    query: dict[str, Field]
    sort: dict[str, str]
    default: list[str]


REPOSITORIES = Keys(REPOSITORY_QUERY, REPOSITORY_SORT, ["-creation_time"])
TAGS = Keys(TAG_QUERY, TAG_SORT, ["-push_time"])
ACCESSORIES = Keys(ACCESSORY_QUERY, ACCESSORY_SORT, ["-push_time"])
LABELS = Keys(LABEL_QUERY, LABEL_SORT, ["name"])


def apply(queryset: QuerySet[Any], q: str | None, sort: str | None, keys: Keys) -> QuerySet[Any]:
    return apply_sort(apply_query(queryset, q, keys.query), sort, keys.sort, keys.default)
