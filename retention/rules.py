"""Harbor's retention rule model: templates, selectors and their validation.

A rule: {id, priority, disabled, action: "retain", template, params: {<template>: N},
tag_selectors: [{kind, decoration, pattern, extras}], scope_selectors: {"repository":
[{kind: "doublestar", decoration: repoMatches|repoExcludes, pattern}]}}.

Tag selectors of kind `doublestar` (decorations matches/excludes, `extras`
'{"untagged": true}' to include untagged artifacts) and of kind `label` (withLabels/
withoutLabels, `pattern` a comma-separated list of label names) are ANDed, as Harbor
applies them one after the other. Selectors are matched with immutable.matching's
doublestar translation (no second implementation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harbor_py.core.errors import bad_request
from immutable.matching import REPOSITORY_DECORATIONS, TAG_DECORATIONS
from immutable.services import clean_selector

MAX_RULES = 15  # per policy, as Harbor

# template -> (display text, param unit, whether it takes a number)
TEMPLATES: dict[str, tuple[str, str, bool]] = {
    "latestPushedK": ("the most recently pushed # artifacts", "COUNT", True),
    "latestPulledN": ("the most recently pulled # artifacts", "COUNT", True),
    "nDaysSinceLastPush": ("pushed within the last # days", "DAYS", True),
    "nDaysSinceLastPull": ("pulled within the last # days", "DAYS", True),
    "always": ("always", "", False),
}
LABEL_DECORATIONS = ("withLabels", "withoutLabels")
MAX_PARAM = 20_000_000  # Harbor caps K and N days at this too


def metadata() -> dict[str, Any]:
    """GET /retentions/metadatas."""
    return {
        "templates": [
            {
                "rule_template": name,
                "display_text": text,
                "action": "retain",
                "params": [{"type": "int", "unit": unit, "required": True}] if takes else [],
            }
            for name, (text, unit, takes) in TEMPLATES.items()
        ],
        "scope_selectors": [
            {
                "display_text": "Repositories",
                "kind": "doublestar",
                "decorations": list(REPOSITORY_DECORATIONS),
            }
        ],
        "tag_selectors": [
            {
                "display_text": "Artifacts",
                "kind": "doublestar",
                "decorations": list(TAG_DECORATIONS),
            },
            {"display_text": "Labels", "kind": "label", "decorations": list(LABEL_DECORATIONS)},
        ],
    }


@dataclass(frozen=True)
class Rule:
    """A validated, enabled rule, as the evaluation uses it."""

    index: int  # 1-based position in the policy
    template: str
    param: int
    tag_patterns: tuple[tuple[str, bool], ...]  # (doublestar pattern, excludes)
    untagged: bool  # untagged artifacts pass the tag selectors
    with_labels: tuple[str, ...]
    without_labels: tuple[str, ...]
    repository_selectors: tuple[dict[str, str], ...]

    def describe(self) -> str:
        if self.template == "always":
            what = "always"
        else:
            what = TEMPLATES[self.template][0].replace("#", str(self.param))
        tags = " and ".join(f"{'excludes' if ex else 'matches'} {p}" for p, ex in self.tag_patterns)
        extra = [tags] if tags else []
        if self.untagged:
            extra.append("untagged")
        if self.with_labels:
            extra.append("labels " + ",".join(self.with_labels))
        if self.without_labels:
            extra.append("without labels " + ",".join(self.without_labels))
        return f"rule {self.index} ({what}; {'; '.join(extra)})"


def _untagged(extras: Any) -> bool:
    if not extras:
        return False
    try:
        parsed = json.loads(extras) if isinstance(extras, str) else extras
    except ValueError:
        raise bad_request('tag_selectors: extras must be JSON such as {"untagged": true}') from None
    return isinstance(parsed, dict) and parsed.get("untagged") is True


def _selector(
    raw: Any, where: str, decorations: tuple[str, ...], *, labels: bool = False
) -> dict[str, str]:
    """A doublestar selector as immutability checks it (immutable.services), or, among
    tag selectors, a label selector."""
    if labels and isinstance(raw, dict) and raw.get("kind") == "label":
        if raw.get("decoration") not in LABEL_DECORATIONS:
            raise bad_request(f"{where}: decoration must be one of {', '.join(LABEL_DECORATIONS)}")
        names = [n.strip() for n in str(raw.get("pattern") or "").split(",") if n.strip()]
        if not names:
            raise bad_request(f"{where}: a label selector names at least one label")
        return {"kind": "label", "decoration": raw["decoration"], "pattern": ",".join(names)}
    selector = clean_selector(raw, decorations, where)
    extras = raw.get("extras")
    if extras:
        _untagged(extras)  # valid JSON
        selector["extras"] = extras if isinstance(extras, str) else json.dumps(extras)
    return selector


def _param(template: str, params: Any) -> dict[str, int]:
    if not TEMPLATES[template][2]:
        return {}
    value = params.get(template) if isinstance(params, dict) else None
    if isinstance(value, str) and value.isascii() and value.isdigit():  # not "²"
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PARAM:
        raise bad_request(
            f"rule {template}: params.{template} must be an integer >= 0",
            key="retention.count_invalid",
            params={"max": MAX_PARAM},
        )
    return {template: value}


def clean_rules(raw: Any) -> list[dict[str, Any]]:
    """The policy's rules as stored: validated, ids numbered from 1."""
    if not isinstance(raw, list):
        raise bad_request("rules must be a list")
    if len(raw) > MAX_RULES:
        raise bad_request(
            f"a retention policy has at most {MAX_RULES} rules",
            key="retention.too_many",
            params={"max": MAX_RULES},
        )
    rules = []
    seen = set()
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise bad_request("each rule must be an object")
        template = item.get("template")
        if not isinstance(template, str) or template not in TEMPLATES:
            raise bad_request(f"rule {index}: template must be one of {', '.join(TEMPLATES)}")
        if (item.get("action") or "retain") != "retain":
            raise bad_request(f"rule {index}: action must be retain")
        tag_selectors = item.get("tag_selectors") or []
        if not isinstance(tag_selectors, list) or not tag_selectors:
            raise bad_request(f"rule {index}: tag_selectors must be a non-empty list")
        tags = [
            _selector(s, f"rule {index} tag_selectors", TAG_DECORATIONS, labels=True)
            for s in tag_selectors
        ]
        scope = item.get("scope_selectors")
        if not isinstance(scope, dict) or set(scope) != {"repository"}:
            raise bad_request(
                f'rule {index}: scope_selectors must be {{"repository": [selectors]}}'
            )
        repositories = scope["repository"]
        if not isinstance(repositories, list) or not repositories:
            raise bad_request(f"rule {index}: scope_selectors.repository must be a non-empty list")
        repository_selectors = [
            _selector(s, f"rule {index} scope_selectors", REPOSITORY_DECORATIONS)
            for s in repositories
        ]
        rule = {
            "id": index,
            "priority": item.get("priority") if isinstance(item.get("priority"), int) else 0,
            "disabled": item.get("disabled") is True,
            "action": "retain",
            "template": template,
            "params": _param(template, item.get("params")),
            "tag_selectors": tags,
            "scope_selectors": {"repository": repository_selectors},
        }
        key = json.dumps(
            {k: v for k, v in rule.items() if k not in ("id", "priority", "disabled")},
            sort_keys=True,
        )
        if key in seen:
            raise bad_request(
                f"rule {index} is the same as an earlier rule", key="retention.same_rule"
            )
        seen.add(key)
        rules.append(rule)
    return rules


def compiled(rules: list[dict[str, Any]]) -> list[Rule]:
    """The enabled rules, for the evaluation."""
    out = []
    for rule in rules:
        if rule.get("disabled"):
            continue
        patterns: list[tuple[str, bool]] = []
        untagged: list[bool] = []
        with_labels: list[str] = []
        without_labels: list[str] = []
        for selector in rule["tag_selectors"]:
            if selector["kind"] == "label":
                names = selector["pattern"].split(",")
                (with_labels if selector["decoration"] == "withLabels" else without_labels).extend(
                    names
                )
                continue
            patterns.append((selector["pattern"], selector["decoration"] == "excludes"))
            untagged.append(_untagged(selector.get("extras")))
        template = rule["template"]
        out.append(
            Rule(
                index=rule["id"],
                template=template,
                param=int(rule["params"].get(template, 0)),
                tag_patterns=tuple(patterns),
                # untagged artifacts pass only selectors that include them (ANDed)
                untagged=all(untagged),
                with_labels=tuple(with_labels),
                without_labels=tuple(without_labels),
                repository_selectors=tuple(rule["scope_selectors"]["repository"]),
            )
        )
    return out


def clean_trigger(raw: Any) -> dict[str, Any]:
    """Harbor's trigger: kind Schedule, settings.cron (6 fields; empty: no schedule)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("trigger must be an object")
    kind = raw.get("kind") or "Schedule"
    if kind != "Schedule":
        raise bad_request("trigger.kind must be Schedule")
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise bad_request("trigger.settings must be an object")
    cron = settings.get("cron") or ""
    if not isinstance(cron, str):
        raise bad_request("trigger.settings.cron must be a string")
    references = raw.get("references") if isinstance(raw.get("references"), dict) else {}
    return {"kind": kind, "settings": {"cron": cron.strip()}, "references": references}
