"""Retention's rule model (issue #25): validation as Harbor's, and the doublestar
translation the SQL evaluation uses (the same regular expression immutability matches with)."""

from __future__ import annotations

import json
import re

import pytest

from harbor_py.core.errors import DomainError
from immutable.matching import compile_pattern, regex_source
from retention.rules import clean_rules, clean_trigger, compiled, metadata

EVERY = {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}


def _rule(**overrides):
    return {
        "template": "latestPushedK",
        "params": {"latestPushedK": 3},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": EVERY,
        **overrides,
    }


def test_metadata_names_harbors_templates_and_selectors():
    found = metadata()
    assert [t["rule_template"] for t in found["templates"]] == [
        "latestPushedK",
        "latestPulledN",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "always",
    ]
    assert {s["kind"] for s in found["tag_selectors"]} == {"doublestar", "label"}


def test_rules_are_numbered_and_normalised():
    rules = clean_rules([_rule(), _rule(template="always", params={})])
    assert [r["id"] for r in rules] == [1, 2]
    assert rules[0]["params"] == {"latestPushedK": 3} and rules[1]["params"] == {}
    assert rules[0]["action"] == "retain"


@pytest.mark.parametrize(
    "broken",
    [
        _rule(template="latestActiveK"),
        _rule(params={"latestPushedK": -1}),
        _rule(params={"latestPushedK": True}),
        _rule(params={}),
        _rule(action="delete"),
        _rule(tag_selectors=[]),
        _rule(tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "{a"}]),
        _rule(tag_selectors=[{"kind": "label", "decoration": "withLabels", "pattern": " , "}]),
        _rule(tag_selectors=[{"kind": "doublestar", "decoration": "repoMatches", "pattern": "a"}]),
        _rule(scope_selectors={"repository": [{"decoration": "matches", "pattern": "a"}]}),
        _rule(
            tag_selectors=[
                {"kind": "doublestar", "decoration": "matches", "pattern": "a", "extras": "{no"}
            ]
        ),
    ],
)
def test_invalid_rules_are_refused(broken):
    with pytest.raises(DomainError):
        clean_rules([broken])


def test_a_duplicate_rule_and_too_many_rules_are_refused():
    with pytest.raises(DomainError, match="same as an earlier"):
        clean_rules([_rule(), _rule(priority=2)])
    many = [_rule(params={"latestPushedK": i}) for i in range(16)]
    with pytest.raises(DomainError, match="at most 15"):
        clean_rules(many)


def test_untagged_passes_only_when_every_doublestar_selector_includes_it():
    extras = json.dumps({"untagged": True})
    both = _rule(
        tag_selectors=[
            {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": extras},
            {"kind": "doublestar", "decoration": "excludes", "pattern": "tmp-*", "extras": extras},
        ]
    )
    one = _rule(
        tag_selectors=[
            {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": extras},
            {"kind": "doublestar", "decoration": "excludes", "pattern": "tmp-*"},
        ]
    )
    [with_both, with_one] = compiled(clean_rules([both, one]))
    assert with_both.untagged and not with_one.untagged
    assert with_both.tag_patterns == (("**", False), ("tmp-*", True))


def test_disabled_rules_are_not_evaluated_and_describe_says_why():
    rules = compiled(clean_rules([_rule(disabled=True), _rule(template="always", params={})]))
    assert [r.index for r in rules] == [2]
    assert rules[0].describe() == "rule 2 (always; matches **)"


def test_trigger_is_harbors_schedule():
    assert clean_trigger(None) == {"kind": "Schedule", "settings": {"cron": ""}, "references": {}}
    assert clean_trigger({"settings": {"cron": " 0 0 0 * * * "}})["settings"] == {
        "cron": "0 0 0 * * *"
    }
    with pytest.raises(DomainError):
        clean_trigger({"kind": "Event"})


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("release-*", ["release-1", "release-"], ["release/1", "xrelease-1"]),
        ("**", ["a", "a/b"], []),
        ("{dev,qa}-?", ["dev-1", "qa-x"], ["dev-10", "prod-1"]),
        ("v1.[0-9]", ["v1.3"], ["v1x3", "v1.a"]),
    ],
)
def test_the_sql_regex_is_the_matchers(pattern, yes, no):
    source = regex_source(pattern)
    assert source.startswith(r"\A(?:") and source.endswith(r")\Z")
    for value in yes:
        assert re.search(source, value) and compile_pattern(pattern).match(value)
    for value in no:
        assert not re.search(source, value) and not compile_pattern(pattern).match(value)


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 2.0), ("0", 0.0), ("2.5", 2.5), ("-1", 0.0), ("x", 2.0)]
)
def test_the_pace_of_deletes_comes_from_the_environment(monkeypatch, raw, expected):
    from retention.runs import pace

    if raw is None:
        monkeypatch.delenv("HARBOR_RETENTION_PACE", raising=False)
    else:
        monkeypatch.setenv("HARBOR_RETENTION_PACE", raw)
    assert pace() == expected
