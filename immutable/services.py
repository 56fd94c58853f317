"""Writes about immutability rules. Each runs in one transaction with its audit record."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict
from immutable.matching import (
    REPOSITORY_DECORATIONS,
    TAG_DECORATIONS,
    BadPattern,
    compile_pattern,
)
from immutable.models import ImmutableRule
from projects.models import Project

MAX_RULES = 15  # per project, as Harbor


def _pattern_key(where: str) -> str | None:
    """The UI's words for a refused selector (frontend.refusals), by the selectors' kind."""
    if where.endswith("tag_selectors"):
        return "immutable.tag_pattern"
    return "immutable.repository_pattern" if where.endswith("scope_selectors") else None


def clean_selector(raw: Any, decorations: tuple[str, ...], where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise bad_request(f"{where} must be an object")
    kind = raw.get("kind") or "doublestar"
    decoration, pattern = raw.get("decoration"), raw.get("pattern")
    if kind != "doublestar":
        raise bad_request(
            f"{where}: kind must be doublestar",
            key=_pattern_key(where),
            params={"why": "kind must be doublestar"},
        )
    if decoration not in decorations:
        why = f"decoration must be one of {', '.join(decorations)}"
        raise bad_request(f"{where}: {why}", key=_pattern_key(where), params={"why": why})
    if not isinstance(pattern, str) or not pattern:
        raise bad_request(
            f"{where}: a pattern is required",
            key=_pattern_key(where),
            params={"why": "a pattern is required"},
        )
    try:
        compile_pattern(pattern)
    except BadPattern as exc:
        raise bad_request(
            f"{where}: {exc}", key=_pattern_key(where), params={"why": str(exc)}
        ) from None
    selector = {"kind": kind, "decoration": decoration, "pattern": pattern}
    if isinstance(raw.get("extras"), str):
        selector["extras"] = raw["extras"]
    return selector


def clean_selectors(
    tag_selectors: Any, scope_selectors: Any
) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]]]:
    if not isinstance(tag_selectors, list) or not tag_selectors:
        raise bad_request("tag_selectors must be a non-empty list")
    tags = [clean_selector(s, TAG_DECORATIONS, "tag_selectors") for s in tag_selectors]
    if not isinstance(scope_selectors, dict) or set(scope_selectors) != {"repository"}:
        raise bad_request('scope_selectors must be {"repository": [selectors]}')
    repositories = scope_selectors["repository"]
    if not isinstance(repositories, list) or not repositories:
        raise bad_request("scope_selectors.repository must be a non-empty list")
    scope = [clean_selector(s, REPOSITORY_DECORATIONS, "scope_selectors") for s in repositories]
    return tags, {"repository": scope}


def _same_rule_exists(rule: ImmutableRule) -> bool:
    others = ImmutableRule.objects.filter(project_id=rule.project_id).exclude(pk=rule.pk)
    return any(
        o.tag_selectors == rule.tag_selectors and o.scope_selectors == rule.scope_selectors
        for o in others
    )


def _record(rule: ImmutableRule, project: Project, actor: Actor, operation: str) -> None:
    selectors = ", ".join(f"{s['decoration']} {s['pattern']}" for s in rule.tag_selectors)
    record(
        actor=actor,
        operation=operation,
        resource_type="immutable_rule",
        resource=str(rule.pk),
        project_id=project.pk,
        project_name=project.name,
        description=f"tags {selectors}",
    )


def _lock(project: Project) -> None:
    """Serialises rule writes of one project (the count limit and the duplicate check)."""
    list(Project.objects.select_for_update().filter(pk=project.pk).values_list("pk"))


@transaction.atomic
def create_rule(*, project: Project, data: dict[str, Any], actor: Actor) -> ImmutableRule:
    _lock(project)
    if ImmutableRule.objects.filter(project=project).count() >= MAX_RULES:
        raise bad_request(
            f"a project has at most {MAX_RULES} immutability rules",
            key="immutable.too_many",
            params={"max": MAX_RULES},
        )
    tags, scope = clean_selectors(data.get("tag_selectors"), data.get("scope_selectors"))
    rule = ImmutableRule(
        project=project,
        priority=data.get("priority") or 0,
        disabled=bool(data.get("disabled")),
        action=data.get("action") or "immutable",
        template=data.get("template") or "immutable_template",
        params=data.get("params") or {},
        tag_selectors=tags,
        scope_selectors=scope,
    )
    if _same_rule_exists(rule):
        raise conflict(
            "an immutability rule with the same selectors already exists",
            key="immutable.same_rule",
        )
    rule.save()
    _record(rule, project, actor, "create")
    return rule


@transaction.atomic
def update_rule(
    *, project: Project, rule: ImmutableRule, data: dict[str, Any], actor: Actor
) -> ImmutableRule:
    """Fields present in `data` replace the rule's (toggling `disabled` alone is allowed)."""
    _lock(project)
    if "tag_selectors" in data or "scope_selectors" in data:
        rule.tag_selectors, rule.scope_selectors = clean_selectors(
            data.get("tag_selectors", rule.tag_selectors),
            data.get("scope_selectors", rule.scope_selectors),
        )
    for field in ("priority", "disabled", "params"):
        if field in data and data[field] is not None:
            setattr(rule, field, data[field])
    if _same_rule_exists(rule):
        raise conflict(
            "an immutability rule with the same selectors already exists",
            key="immutable.same_rule",
        )
    rule.save()
    _record(rule, project, actor, "update")
    return rule


@transaction.atomic
def delete_rule(*, project: Project, rule: ImmutableRule, actor: Actor) -> None:
    _record(rule, project, actor, "delete")
    rule.delete()
