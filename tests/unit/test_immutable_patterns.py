"""Tag immutability's doublestar matching (immutable.matching), without a database."""

from __future__ import annotations

import pytest

from immutable.matching import BadPattern, compile_pattern, selector_accepts


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("v*", "v1.0", True),
        ("v*", "latest", False),
        ("*", "team/app", False),
        ("**", "team/app", True),
        ("team/**", "team/a/b", True),
        ("{v1,v2}", "v2", True),
        ("{v1,v2}", "v3", False),
        ("release-?", "release-1", True),
        ("release-[0-9]", "release-x", False),
        ("1.0.*", "1.0.7", True),
        ("1.0.*", "1x0.7", False),
    ],
)
def test_doublestar_patterns(pattern, value, matches):
    assert bool(compile_pattern(pattern).match(value)) is matches


def test_excludes_and_bad_patterns():
    selector = {"decoration": "excludes", "pattern": "dev-*"}
    assert selector_accepts(selector, "v1") and not selector_accepts(selector, "dev-1")
    with pytest.raises(BadPattern):
        compile_pattern("{v1,v2")
