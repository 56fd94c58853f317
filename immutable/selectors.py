"""Reads about immutability rules, and whether a tag is immutable."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from harbor_py.core.db import fetch_all
from immutable.matching import CompiledRule, protected
from immutable.models import ImmutableRule
from registry.models import Repository
from registry.names import project_of


def project_rules(project_id: int) -> QuerySet[ImmutableRule]:
    return ImmutableRule.objects.filter(project_id=project_id).order_by("priority", "pk")


def find_rule(project_id: int, rule_id: int) -> ImmutableRule | None:
    return ImmutableRule.objects.filter(project_id=project_id, pk=rule_id).first()


def active_rules(project_id: int) -> list[CompiledRule]:
    # Read on every tagged push: a plain SELECT (harbor_py.core.db says why).
    rules = fetch_all(ImmutableRule, "project_id = %s AND disabled = %s", [project_id, False])
    return [
        CompiledRule(tuple(rule.tag_selectors), tuple(rule.scope_selectors.get("repository") or ()))
        for rule in rules
    ]


def repository_path(repository_name: str) -> str:
    """The repository name as rules see it: without `<project>/`."""
    return repository_name[len(project_of(repository_name)) + 1 :]


def is_immutable(project_id: int, repository_name: str, tag: str) -> bool:
    return protected(active_rules(project_id), repository_path(repository_name), tag)


def immutable_tags(project_id: int, repository_name: str, tags: list[str]) -> list[str]:
    rules = active_rules(project_id) if tags else []
    if not rules:
        return []
    path = repository_path(repository_name)
    return [tag for tag in tags if protected(rules, path, tag)]


def immutable_checker(repository_id: int) -> Callable[[str], bool]:
    """Whether a tag name of this repository is immutable (rules read once)."""
    repository = Repository.objects.filter(pk=repository_id).values("project_id", "name").first()
    rules = active_rules(repository["project_id"]) if repository else []
    if not rules:
        return lambda tag: False
    path = repository_path(repository["name"])  # type: ignore[index]  # rules exist, so the repository does
    return lambda tag: protected(rules, path, tag)
