"""`make test` runs on pytest-xdist workers (-n, --dist loadgroup): the tests of a module
that share a module-scoped fixture (an instance started once) run on one worker, as do
the tests of one explicit xdist_group; the others are handed out one by one
(tests/conftest.py, whose hook also works around pytest-xdist 3.8 on pytest 9). Runs a
small module in a pytest of its own, which loads tests/conftest.py (Redis: the cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.stack import REPO_ROOT

MODULE = """
import os
from pathlib import Path

import pytest

OUT = Path(__file__).parent / "ran"


def _ran(kind):
    with OUT.open("a") as out:
        out.write(f"{kind} {os.environ['PYTEST_XDIST_WORKER']}\\n")


@pytest.fixture(scope="module")
def instance():
    return object()


@pytest.mark.parametrize("n", range(6))
def test_sharing_an_instance(instance, n):
    _ran("shared")


@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("serial")
def test_in_an_explicit_group(n):
    _ran("grouped")


@pytest.mark.parametrize("n", range(12))
def test_alone(n):
    _ran("alone")
"""


def test_tests_sharing_a_module_instance_or_a_group_run_on_one_worker(tmp_path: Path):
    (tmp_path / "test_sample.py").write_text(MODULE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml"),
         "--rootdir", str(REPO_ROOT), "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "loadgroup", "-q", str(tmp_path / "test_sample.py")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    workers: dict[str, list[str]] = defaultdict(list)
    for line in (tmp_path / "ran").read_text().splitlines():
        kind, worker = line.split()
        workers[kind].append(worker)
    assert {kind: len(ran) for kind, ran in workers.items()} == {
        "shared": 6,
        "grouped": 6,
        "alone": 12,
    }
    assert len(set(workers["shared"])) == 1, workers
    assert len(set(workers["grouped"])) == 1, workers
    assert len(set(workers["alone"])) > 1, workers  # handed out one by one
