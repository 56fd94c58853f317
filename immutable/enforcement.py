"""Refusing what an immutability rule forbids: moving, overwriting or deleting a
protected tag (and so deleting an artifact or repository that holds one)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from harbor_py.core.errors import Code, DomainError
from immutable import selectors
from immutable.matching import CompiledRule, protected
from registry.models import Artifact


class TagImmutable(DomainError):
    """Harbor's answer: PRECONDITION, on the registry protocol and the API alike."""

    def __init__(self, repository_name: str, tag: str) -> None:
        self.repository_name, self.tag = repository_name, tag  # for the UI's own wording
        super().__init__(
            Code.PRECONDITION,
            f"Failed to process request due to '{repository_name}:{tag}' configured as immutable.",
        )


def check_tags(*, project_id: int, repository_name: str, tags: Iterable[str]) -> None:
    found = selectors.immutable_tags(project_id, repository_name, list(tags))
    if found:
        raise TagImmutable(repository_name, found[0])


def check_move(
    *, project_id: int, repository_name: str, tag: str, current: str | None, new: str
) -> None:
    """`tag` (now on digest `current`, or nowhere) is to point at digest `new`."""
    if current is not None and current != new:
        check_tags(project_id=project_id, repository_name=repository_name, tags=[tag])


def check_artifacts_deletable(artifacts: Iterable[Artifact]) -> None:
    by_repository: dict[tuple[int, str], list[str]] = {}
    ids = [a.pk for a in artifacts]
    if not ids:
        return
    # on a cursor: every delete asks this, on its locked rows (harbor_py.core.db)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.project_id, r.name, t.name FROM tag t "
            "JOIN repository r ON r.id = t.repository_id "
            f"WHERE t.artifact_id IN ({', '.join(['%s'] * len(ids))})",
            ids,
        )
        rows = cursor.fetchall()
    for project_id, repository_name, tag in rows:
        by_repository.setdefault((project_id, repository_name), []).append(tag)
    for (project_id, repository_name), tags in by_repository.items():
        check_tags(project_id=project_id, repository_name=repository_name, tags=tags)


def refusals(sets: dict[int, list[Artifact]]) -> dict[int, TagImmutable]:
    """check_artifacts_deletable of several deletion sets (root id: its set) at once: the
    roots whose set holds a protected tag, and the first such tag. One statement for the
    tags, the rules read once per project."""
    root_of = {a.pk: root for root, doomed in sets.items() for a in doomed}
    if not root_of:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.artifact_id, r.project_id, r.name, t.name FROM tag t "
            "JOIN repository r ON r.id = t.repository_id "
            f"WHERE t.artifact_id IN ({', '.join(['%s'] * len(root_of))}) ORDER BY t.id",
            list(root_of),
        )
        rows = cursor.fetchall()
    rules: dict[int, list[CompiledRule]] = {}
    refused: dict[int, TagImmutable] = {}
    for artifact_id, project_id, repository_name, tag in rows:
        root = root_of[artifact_id]
        if root in refused:
            continue
        if project_id not in rules:
            rules[project_id] = selectors.active_rules(project_id)
        path = selectors.repository_path(repository_name)
        if rules[project_id] and protected(rules[project_id], path, tag):
            refused[root] = TagImmutable(repository_name, tag)
    return refused
