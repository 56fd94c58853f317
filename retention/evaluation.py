"""Which artifacts (or tags) of one repository the policy's rules retain: set-based SQL.

One statement per repository evaluates every rule that applies to it: the candidates (the
repository's root artifacts; index children and accessories follow their parent and are
never candidates themselves) in a CTE, each rule as a filter over them (doublestar tag
patterns as regular expressions in SQL, label selectors as EXISTS) and its template as a
window (`ROW_NUMBER() OVER (ORDER BY pushed DESC)` for "latest K") or a time bound. The
first rule that retains a row is its reason; a row no rule retains is deleted, unless one
of its tags is immutable. A second statement reads the tags of the repository. No query
per tag or per artifact (issue #25: Harbor's per-artifact evaluation pinned PostgreSQL).

With `untag_only` (harbor-py, beyond Harbor) the candidates are the tags (and the untagged
root artifacts): a tag no rule retains is removed, and an artifact only when none of its
tags is retained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from immutable.matching import regex_source
from retention.rules import Rule

# The candidates. Root: not a child of an index, not an accessory of an artifact of the
# repository. `pushed` is the artifact's last push (a tag pushed again moves it).
_ROOT = """
a.repository_id = %s
AND NOT EXISTS (SELECT 1 FROM artifact_reference ar WHERE ar.child_id = a.id)
AND NOT (a.subject_digest <> '' AND EXISTS (
    SELECT 1 FROM artifact s
    WHERE s.repository_id = a.repository_id AND s.digest = a.subject_digest))
"""
_ARTIFACT_ROWS = f"""
SELECT a.id AS cid, a.id AS artifact_id, a.digest AS digest,
       CAST(NULL AS VARCHAR(128)) AS tag_name,
       CASE WHEN MAX(t.push_time) > a.push_time THEN MAX(t.push_time) ELSE a.push_time END
         AS pushed,
       a.pull_time AS pulled, COUNT(t.id) AS tagged
FROM artifact a LEFT JOIN tag t ON t.artifact_id = a.id
WHERE {_ROOT}
GROUP BY a.id, a.digest, a.push_time, a.pull_time
"""
# One row per tag, and one per untagged root artifact (cid negative: no tag id).
_TAG_ROWS = f"""
SELECT COALESCE(t.id, -a.id) AS cid, a.id AS artifact_id, a.digest AS digest, t.name AS tag_name,
       COALESCE(t.push_time, a.push_time) AS pushed,
       CASE WHEN t.id IS NULL THEN a.pull_time ELSE t.pull_time END AS pulled,
       CASE WHEN t.id IS NULL THEN 0 ELSE 1 END AS tagged
FROM artifact a LEFT JOIN tag t ON t.artifact_id = a.id
WHERE {_ROOT}
"""
_EVERY_NAME = regex_source("**")
_LABELLED = (
    "EXISTS (SELECT 1 FROM label_reference lr JOIN harbor_label l ON l.id = lr.label_id "
    "WHERE lr.artifact_id = c.artifact_id AND l.name {test})"
)


def _regex_op() -> str:
    # PostgreSQL's ARE and Python's re (Django's REGEXP on SQLite) read the same source.
    return "~" if connection.vendor == "postgresql" else "REGEXP"


def _rule_filter(rule: Rule, untag_only: bool, params: list[Any]) -> str:
    """The rule's tag and label selectors as a condition on a candidate row `c`."""
    op, parts = _regex_op(), []
    for pattern, excludes in rule.tag_patterns:
        if regex_source(pattern) == _EVERY_NAME and not excludes:
            # `**`, the default selector: having a tag is enough, no expression per tag
            parts.append("(c.tag_name IS NOT NULL)" if untag_only else "(c.tagged > 0)")
            continue
        negate = "NOT " if excludes else ""
        if untag_only:
            parts.append(f"(c.tag_name IS NOT NULL AND {negate}(c.tag_name {op} %s))")
        else:
            parts.append(
                "(c.tagged > 0 AND EXISTS (SELECT 1 FROM tag t2 WHERE t2.artifact_id = "
                f"c.artifact_id AND {negate}(t2.name {op} %s)))"
            )
        params.append(regex_source(pattern))
    if parts:
        tagged = " AND ".join(parts)
        untagged = "c.tagged = 0" if rule.untagged else "1 = 0"
        where = f"(({tagged}) OR {untagged})"
    else:
        where = "1 = 1"
    for name in rule.with_labels:
        where += " AND " + _LABELLED.format(test="= %s")
        params.append(name)
    if rule.without_labels:
        marks = ", ".join(["%s"] * len(rule.without_labels))
        where += " AND NOT " + _LABELLED.format(test=f"IN ({marks})")
        params.extend(rule.without_labels)
    return where


def _rule_rows(rule: Rule, untag_only: bool, now: dt.datetime, params: list[Any]) -> str:
    """A SELECT of the cids the rule retains."""
    where = _rule_filter(rule, untag_only, params)
    if rule.template == "always":
        return f"SELECT cid FROM c WHERE {where}"
    if rule.template in ("nDaysSinceLastPush", "nDaysSinceLastPull"):
        column = "pushed" if rule.template == "nDaysSinceLastPush" else "pulled"
        params.append(now - dt.timedelta(days=rule.param))
        return f"SELECT cid FROM c WHERE {where} AND c.{column} >= %s"
    order = (
        "c.pushed DESC, c.cid DESC"
        if rule.template == "latestPushedK"
        else "CASE WHEN c.pulled IS NULL THEN 1 ELSE 0 END, c.pulled DESC, c.cid DESC"
    )
    params.append(rule.param)
    return (
        f"SELECT cid FROM (SELECT c.cid, ROW_NUMBER() OVER (ORDER BY {order}) AS rn "
        f"FROM c WHERE {where}) ranked WHERE rn <= %s"
    )


@dataclass(frozen=True)
class Row:
    artifact_id: int
    digest: str
    tag: str | None  # untag_only: the row's tag; else None
    rule: int  # the first rule retaining it, 0 if none


def evaluate_rows(
    repository_id: int, rules: list[Rule], *, untag_only: bool, now: dt.datetime
) -> list[Row]:
    params: list[Any] = [repository_id]
    ctes = ["c AS (" + (_TAG_ROWS if untag_only else _ARTIFACT_ROWS) + ")"]
    cases = []
    for number, rule in enumerate(rules, start=1):
        ctes.append(f"r{number} AS ({_rule_rows(rule, untag_only, now, params)})")
        cases.append(f"WHEN c.cid IN (SELECT cid FROM r{number}) THEN {rule.index}")
    decided = f"CASE {' '.join(cases)} ELSE 0 END" if cases else "0"
    sql = (
        f"WITH {', '.join(ctes)} SELECT c.artifact_id, c.digest, c.tag_name, {decided} "
        "FROM c ORDER BY c.pushed DESC, c.cid DESC"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [Row(a, d, t, r) for a, d, t, r in cursor.fetchall()]


@dataclass
class Decision:
    artifact_id: int
    digest: str
    tags: tuple[str, ...]  # the artifact's tags when evaluated
    delete: bool  # the artifact goes (with its children and accessories)
    reason: str
    deleted_tags: tuple[str, ...] = ()  # untag_only: tags that go while the artifact stays
    tag_reasons: dict[str, str] = field(default_factory=dict)
    # `reason` as plain values, for the log's records (a surface words them in its own
    # language): {"rule": index, "template", "param"}, {"immutable": tag}, {"kept":
    # [per tag, one of those with its "tag"]}, {"no_tag": true} or {} (retained by no rule)
    why: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    repository_id: int
    repository: str
    evaluated_at: dt.datetime
    decisions: list[Decision]

    @property
    def total(self) -> int:
        return len(self.decisions)

    @property
    def retained(self) -> int:
        return sum(1 for d in self.decisions if not d.delete)

    @property
    def to_apply(self) -> bool:
        """Whether a real run deletes anything here (an artifact or a tag)."""
        return any(d.delete or d.deleted_tags for d in self.decisions)

    def lines(self) -> list[str]:
        """The task log's table: one line per artifact (and per removed tag)."""
        out = []
        for d in self.decisions:
            tags = ",".join(d.tags) or "<untagged>"
            action = "DELETE" if d.delete else "RETAIN"
            out.append(f"{action:<7}{d.digest}  {tags}  {d.reason}")
            for tag in d.deleted_tags:
                out.append(f"UNTAG  {d.digest}  {tag}  {d.tag_reasons.get(tag, '')}")
        return out

    def records(self) -> list[tuple[str, dict[str, Any]]]:
        """`lines()` as (event, parameters), line for line."""
        out: list[tuple[str, dict[str, Any]]] = []
        for d in self.decisions:
            event = "retention.delete" if d.delete else "retention.retain"
            out.append((event, {"digest": d.digest, "tags": list(d.tags), **d.why}))
            out.extend(("retention.untag", {"digest": d.digest, "tag": t}) for t in d.deleted_tags)
        return out


def _tags(repository_id: int) -> dict[int, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT artifact_id, name FROM tag WHERE repository_id = %s ORDER BY name",
            [repository_id],
        )
        found: dict[int, list[str]] = {}
        for artifact_id, name in cursor.fetchall():
            found.setdefault(artifact_id, []).append(name)
    return found


def plan(
    *,
    repository_id: int,
    repository: str,
    rules: list[Rule],
    untag_only: bool,
    immutable: Callable[[str], bool],
    now: dt.datetime,
) -> Plan:
    """What the rules keep and delete in this repository, and why."""
    described = {rule.index: rule.describe() for rule in rules}
    by_index = {rule.index: rule for rule in rules}

    def by_rule(index: int) -> dict[str, Any]:
        rule = by_index[index]
        return {"rule": index, "template": rule.template, "param": rule.param}

    rows = evaluate_rows(repository_id, rules, untag_only=untag_only, now=now)
    tags = _tags(repository_id)
    by_artifact: dict[int, list[Row]] = {}
    for row in rows:
        by_artifact.setdefault(row.artifact_id, []).append(row)
    decisions = []
    for artifact_id, artifact_rows in by_artifact.items():
        names = tuple(tags.get(artifact_id, ()))
        digest = artifact_rows[0].digest
        locked = [n for n in names if immutable(n)]
        keeping = [r for r in artifact_rows if r.rule]
        if not untag_only:
            rule = artifact_rows[0].rule
            if rule:
                reason = f"retained by {described[rule]}"
                decisions.append(
                    Decision(artifact_id, digest, names, False, reason, why=by_rule(rule))
                )
            elif locked:
                reason, why = f"immutable tag {locked[0]}", {"immutable": locked[0]}
                decisions.append(Decision(artifact_id, digest, names, False, reason, why=why))
            else:
                decisions.append(Decision(artifact_id, digest, names, True, "retained by no rule"))
            continue
        kept_tags = {r.tag for r in keeping if r.tag} | set(locked)
        if keeping or locked:
            reasons = [f"{r.tag or '<untagged>'} retained by {described[r.rule]}" for r in keeping]
            reasons += [f"{n} immutable" for n in locked if n not in {r.tag for r in keeping}]
            kept = [{"tag": r.tag or "", **by_rule(r.rule)} for r in keeping]
            kept += [
                {"tag": n, "immutable": n} for n in locked if n not in {r.tag for r in keeping}
            ]
            doomed_tags = tuple(n for n in names if n not in kept_tags)
            decisions.append(
                Decision(
                    artifact_id,
                    digest,
                    names,
                    False,
                    "; ".join(reasons),
                    deleted_tags=doomed_tags,
                    tag_reasons={n: "retained by no rule" for n in doomed_tags},
                    why={"kept": kept},
                )
            )
        else:
            reason = "no rule retains any of its tags" if names else "retained by no rule"
            nothing: dict[str, Any] = {"no_tag": True} if names else {}
            decisions.append(Decision(artifact_id, digest, names, True, reason, why=nothing))
    return Plan(repository_id, repository, now, decisions)
