"""`make test` runs on pytest-xdist workers (-n, --dist loadgroup): the tests of an
end-to-end module (one instance per module) run on one worker, as do the tests of one
explicit xdist_group; the others are handed out one by one (tests/conftest.py, whose hook
also works around pytest-xdist 3.8 on pytest 9). Runs two small modules in a pytest of
its own, which loads tests/conftest.py (Redis: the cache)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.stack import REPO_ROOT

RECORD = """
import os
import time
from pathlib import Path

import pytest


def _worker():
    return os.environ["PYTEST_XDIST_WORKER"]


def _ran(kind):
    with (Path(os.environ["SAMPLE_OUT"])).open("a") as out:
        out.write(f"{kind} {_worker()}\\n")
"""
E2E_MODULE = (
    RECORD
    + """

@pytest.fixture(scope="module")
def instance():
    return object()


@pytest.mark.parametrize("n", range(6))
def test_sharing_an_instance(instance, n):
    _ran("e2e")
"""
)
OTHER_MODULE = (
    RECORD
    + """

@pytest.mark.parametrize("n", range(6))
@pytest.mark.xdist_group("serial")
def test_in_an_explicit_group(n):
    _ran("grouped")


@pytest.mark.parametrize("n", range(12))
def test_alone(n):
    _ran("alone")
    # Hold this worker until another one has run a test of these too: handed out one by
    # one, the other takes one once its group is done, however late it started (under
    # load, one worker could otherwise run them all before the other asked for work).
    # Handed out as one group, nothing comes, and the outer test says so.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ran = Path(os.environ["SAMPLE_OUT"]).read_text().splitlines()
        if {line.split()[1] for line in ran if line.startswith("alone ")} - {_worker()}:
            return
        time.sleep(0.05)
"""
)


def test_an_e2e_module_or_a_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "e2e").mkdir()
    (tmp_path / "e2e" / "test_sample.py").write_text(E2E_MODULE)
    (tmp_path / "test_other.py").write_text(OTHER_MODULE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["SAMPLE_OUT"] = str(tmp_path / "ran")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml"),
         "--rootdir", str(REPO_ROOT), "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "loadgroup", "-q",
         str(tmp_path / "e2e" / "test_sample.py"), str(tmp_path / "test_other.py")],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    workers: dict[str, list[str]] = defaultdict(list)
    for line in (tmp_path / "ran").read_text().splitlines():
        kind, worker = line.split()
        workers[kind].append(worker)
    assert {kind: len(ran) for kind, ran in workers.items()} == {
        "e2e": 6,
        "grouped": 6,
        "alone": 12,
    }
    assert len(set(workers["e2e"])) == 1, workers
    assert len(set(workers["grouped"])) == 1, workers
    assert len(set(workers["alone"])) > 1, workers  # handed out one by one


def _collection_order(tmp_path: Path) -> tuple[list[str], str]:
    """The module of each test, in the order tests/conftest.py collects `tmp_path`'s tests,
    and pytest's listing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO_ROOT / "pyproject.toml"),
         "--rootdir", str(REPO_ROOT), "-p", "tests.conftest", "-p", "no:cacheprovider",
         "--collect-only", "-q", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    return [line.split("::")[0].rsplit("/", 1)[-1] for line in lines], result.stdout


def test_e2e_modules_come_first_the_longest_first(tmp_path: Path):
    """The workers take groups in collection order (`make test` passes
    --no-loadscope-reorder): the end-to-end modules measured longest come first
    (tests/e2e/durations.json), an unmeasured one counts as a minute, the rest keep theirs."""
    (tmp_path / "e2e").mkdir()
    for name in ("test_oras_client.py", "test_unmeasured.py", "test_chaos.py"):
        (tmp_path / "e2e" / name).write_text("def test_one():\n    pass\n")
    (tmp_path / "test_first_alphabetically.py").write_text("def test_one():\n    pass\n")
    order, listing = _collection_order(tmp_path)
    assert order[:4] == [
        "test_chaos.py",
        "test_unmeasured.py",
        "test_oras_client.py",
        "test_first_alphabetically.py",
    ], listing


def test_modules_of_one_group_go_together_by_their_sum(tmp_path: Path):
    """End-to-end modules that share an explicit xdist group (one worker runs them, one
    after the other) are ranked by their summed durations and stay together."""
    (tmp_path / "e2e").mkdir()
    pair = 'import pytest\n\npytestmark = pytest.mark.xdist_group("pair")\n'
    for name, head in (
        ("test_chaos.py", ""),
        ("test_unmeasured.py", ""),
        ("test_replication.py", pair),
        ("test_oras_client.py", pair),
    ):
        (tmp_path / "e2e" / name).write_text(head + "\n\ndef test_one():\n    pass\n")
    order, listing = _collection_order(tmp_path)
    # chaos (about 300 s) > the pair (replication about 100 s + oras client 2 s) > an
    # unmeasured module (60 s); ranked alone, oras client would come last
    assert order[:4] == [
        "test_chaos.py",
        "test_oras_client.py",
        "test_replication.py",
        "test_unmeasured.py",
    ], listing
