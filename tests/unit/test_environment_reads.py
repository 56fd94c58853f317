"""Every read of the process environment by the product goes through harbor_py/core/env.py
(tests and benchmarks set up instances' environments themselves)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIRECT = re.compile(
    r"\bos\.(environ|getenv|putenv|unsetenv)\b|\bfrom os import .*\b(environ|getenv)\b"
)


def test_nothing_but_core_env_reads_os_environ():
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    product = [
        p for p in tracked if not p.startswith(("tests/", "bench/", "harbor_py/core/env.py"))
    ]
    assert len(product) > 100  # the listing found the tree
    readers = [
        f"{path}:{number}"
        for path in product
        for number, line in enumerate((ROOT / path).read_text().splitlines(), 1)
        if DIRECT.search(line)
    ]
    assert readers == []
