"""Every mypy ignore comment names its error code and says why after it (docs/architecture.md,
"Checked types")."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"\[[a-z, -]+\]\s+#\s*\S")


def test_every_type_ignore_gives_its_reason():
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    unexplained = [
        f"{path}:{number}"
        for path in tracked
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if (found := IGNORE.search(line)) and not EXPLAINED.match(found["rest"])
    ]
    assert unexplained == []
