"""Harbor's doublestar selectors: `*` within a path segment, `**` across segments, `?`,
`[...]` classes and `{a,b}` alternatives; decorations matches/excludes for tags and
repoMatches/repoExcludes for repositories (matched without the project prefix)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")


class BadPattern(ValueError):
    pass


def _translate(pattern: str) -> str:
    out, i, depth = [], 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                raise BadPattern(f"unclosed [ in {pattern!r}")
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}" and depth:
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        i += 1
    if depth:
        raise BadPattern(f"unclosed {{ in {pattern!r}")
    return "".join(out)


def regex_source(pattern: str) -> str:
    """The anchored regular expression of a doublestar pattern, in the syntax Python's `re`
    and PostgreSQL's `~` share (retention matches tags in SQL with it)."""
    return r"\A(?:" + _translate(pattern) + r")\Z"


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(regex_source(pattern))
    except re.error as exc:
        raise BadPattern(f"invalid pattern {pattern!r}: {exc}") from None


def selector_accepts(selector: dict, value: str) -> bool:
    matched = bool(compile_pattern(selector["pattern"]).match(value))
    return not matched if selector["decoration"] in ("excludes", "repoExcludes") else matched


@dataclass(frozen=True)
class CompiledRule:
    tag_selectors: tuple[dict, ...]
    repository_selectors: tuple[dict, ...]

    def protects(self, repository_path: str, tag: str) -> bool:
        return all(selector_accepts(s, repository_path) for s in self.repository_selectors) and all(
            selector_accepts(s, tag) for s in self.tag_selectors
        )


def protected(rules: list[CompiledRule], repository_path: str, tag: str) -> bool:
    return any(rule.protects(repository_path, tag) for rule in rules)
