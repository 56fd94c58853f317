"""Policy filters and destination naming, pure functions (Harbor's semantics).

Name and tag patterns are Harbor's doublestar globs: `*` matches within one path
component, `**` across components, `?` one character, `{a,b}` alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

FILTER_TYPES = ("name", "tag", "label", "resource")
DECORATIONS = ("matches", "excludes")


def _translate(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "{" and (end := pattern.find("}", i)) > 0:
            alternatives = pattern[i + 1 : end].split(",")
            out.append("(?:" + "|".join(_translate(a) for a in alternatives) + ")")
            i = end + 1
            continue
        out.append({"*": "[^/]*", "?": "[^/]"}.get(char) or re.escape(char))
        i += 1
    return "".join(out)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern) + r"\Z")


def glob_match(pattern: str, value: str) -> bool:
    return bool(_glob_regex(pattern).match(value))


@dataclass(frozen=True)
class Filters:
    names: tuple[tuple[str, bool], ...] = ()  # (pattern, excludes)
    tags: tuple[tuple[str, bool], ...] = ()
    labels: tuple[tuple[tuple[str, ...], bool], ...] = ()
    resource: str = ""  # "" or "image" (everything here is an image or artifact)

    def repository(self, name: str) -> bool:
        return all(glob_match(p, name) != excludes for p, excludes in self.names)

    def tag(self, name: str) -> bool:
        return all(glob_match(p, name) != excludes for p, excludes in self.tags)

    def artifact(self, tags: list[str], labels: set[str]) -> bool:
        """An artifact is selected when its labels pass and one of its tags does (an
        untagged artifact only when no tag filter is set)."""
        for wanted, excludes in self.labels:
            if (set(wanted) <= labels) == excludes:
                return False
        if not self.tags:
            return True
        return any(self.tag(t) for t in tags)


def check(raw: Any) -> list[dict[str, Any]]:
    """Validate and normalise a policy's filter list; raises ValueError."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValueError("filters must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or item.get("type") not in FILTER_TYPES:
            raise ValueError(f"filter type must be one of {', '.join(FILTER_TYPES)}")
        decoration = item.get("decoration") or "matches"
        if decoration not in DECORATIONS:
            raise ValueError("filter decoration must be matches or excludes")
        value = item.get("value")
        if item["type"] == "label":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("a label filter's value is a list of label names")
        elif not isinstance(value, str) or not value:
            raise ValueError(f"a {item['type']} filter's value is a non-empty string")
        if item["type"] == "resource" and value not in ("image", "artifact"):
            raise ValueError("resource filter supports image and artifact")
        out.append({"type": item["type"], "value": value, "decoration": decoration})
    return out


def parse(raw: list[dict[str, Any]]) -> Filters:
    names, tags, labels, resource = [], [], [], ""
    for item in raw:
        excludes = item.get("decoration") == "excludes"
        if item["type"] == "name":
            names.append((item["value"], excludes))
        elif item["type"] == "tag":
            tags.append((item["value"], excludes))
        elif item["type"] == "label":
            labels.append((tuple(item["value"]), excludes))
        else:
            resource = item["value"]
    return Filters(tuple(names), tuple(tags), tuple(labels), resource)


def destination_repository(repository: str, namespace: str, replace_count: int) -> str:
    """Harbor's replaceNamespace: without a namespace the name is kept; -1 (legacy,
    "flatten all levels") keeps only the last component under the namespace; n replaces
    the first n components by the namespace (0: prefix)."""
    if not namespace:
        return repository
    components = repository.split("/")
    if replace_count < 0:
        return f"{namespace}/{components[-1]}"
    if replace_count == len(components):
        return namespace
    if replace_count > len(components):
        raise ValueError(
            f"the repository {repository} has only {len(components)} path components, "
            f"fewer than the {replace_count} to be replaced"
        )
    return "/".join([namespace, *components[replace_count:]])
