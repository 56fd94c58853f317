"""Replication filters (Harbor's doublestar globs) and destination naming (flattening)."""

from __future__ import annotations

import pytest

from replication.filters import check, destination_repository, glob_match, parse


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("library/*", "library/nginx", True),
        ("library/*", "library/team/nginx", False),
        ("library/**", "library/team/nginx", True),
        ("**", "a/b/c", True),
        ("*/nginx", "library/nginx", True),
        ("v1.?", "v1.2", True),
        ("v1.?", "v1.23", False),
        ("{v1,v2}*", "v2.0", True),
        ("{v1,v2}*", "v3.0", False),
        ("{v*,latest}", "v9", True),
        ("{v*,latest}", "latest", True),
        ("{v*,latest}", "dev", False),
        ("1.0", "1.0", True),
        ("1.0", "1x0", False),
    ],
)
def test_glob(pattern, value, expected):
    assert glob_match(pattern, value) is expected


def test_filters_name_tag_label_and_excludes():
    rules = parse(
        check(
            [
                {"type": "name", "value": "proj/**"},
                {"type": "name", "value": "proj/tmp-*", "decoration": "excludes"},
                {"type": "tag", "value": "v*"},
                {"type": "label", "value": ["prod"]},
                {"type": "resource", "value": "image"},
            ]
        )
    )
    assert rules.repository("proj/app") and rules.repository("proj/a/b")
    assert not rules.repository("proj/tmp-1") and not rules.repository("other/app")
    assert rules.artifact(["v1", "latest"], {"prod", "x"})
    assert not rules.artifact(["latest"], {"prod"})  # no tag passes
    assert not rules.artifact(["v1"], {"dev"})  # label missing
    assert not rules.artifact([], {"prod"})  # untagged with a tag filter
    assert parse([]).artifact([], set())  # no filters: everything, untagged too
    excluded = parse(check([{"type": "label", "value": "dev", "decoration": "excludes"}]))
    assert excluded.artifact(["a"], {"prod"}) and not excluded.artifact(["a"], {"dev"})


@pytest.mark.parametrize(
    "bad",
    [
        "name",
        [{"type": "size", "value": "1"}],
        [{"type": "name", "value": ""}],
        [{"type": "tag", "value": "x", "decoration": "maybe"}],
        [{"type": "label", "value": [1]}],
        [{"type": "resource", "value": "chart"}],
    ],
)
def test_check_rejects(bad):
    with pytest.raises(ValueError):
        check(bad)


@pytest.mark.parametrize(
    ("repository", "namespace", "count", "expected"),
    [
        ("a/b/c", "", -1, "a/b/c"),
        ("a/b/c", "ns", -1, "ns/c"),  # flatten all levels
        ("a/b/c", "ns", 0, "ns/a/b/c"),  # no flattening
        ("a/b/c", "ns", 1, "ns/b/c"),
        ("a/b/c", "ns", 2, "ns/c"),
        ("a/b/c", "ns", 3, "ns"),
    ],
)
def test_destination_repository(repository, namespace, count, expected):
    assert destination_repository(repository, namespace, count) == expected


def test_destination_repository_too_many_components():
    with pytest.raises(ValueError):
        destination_repository("a/b", "ns", 3)
