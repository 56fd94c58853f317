from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId  # pytest 9's node ids (_name_group)
from django.conf import settings
from django.utils import translation

from accounts.keys import generate_signing_material
from tests import stack
from tests.run_cache import clear_run_cache
from tests.seaweedfs import SeaweedFS, running_seaweedfs


def pytest_configure(config: pytest.Config) -> None:
    stack.WORKER_NICE = "0"  # the instances the tests start (tests/stack.py says why)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs the suite on pytest-xdist workers (-n, --dist loadgroup), which
    take tests one at a time, in collection order, unless they are in one `xdist_group`.
    The tests of an end-to-end module stay together on one worker (their instance starts
    once per module; they may build on the session's instance in order); a test that
    carries its own group keeps it. Integration and unit tests go one by one: each worker
    then runs its share in pytest-django's order, database tests inside a transaction
    before the transactional ones (whose flush empties the tables, and with them the rows
    that migrations write), which a group handed out first would break."""
    for item in items:
        if not item.get_closest_marker("xdist_group") and "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
        if config.getoption("loadgroup", default=False):  # set on pytest-xdist workers
            _name_group(item)


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_e2e_first(items: list[pytest.Item]) -> None:
    """End-to-end tests first (after pytest-django's reordering, which puts tests without
    the database last), the longest modules first: the workers hand out groups in this
    order (`make test` passes --no-loadscope-reorder; by default xdist would order them
    by their number of tests), so the long ones start early and the short ones and the
    integration tests fill the other workers meanwhile, instead of one long module
    running alone at the end. End-to-end tests use no test database, so the order of the
    database tests is kept."""
    expected = _expected_e2e_seconds()
    group_seconds: dict[str, float] = collections.defaultdict(float)
    modules = {(_group(item), item.path.name) for item in items if "/e2e/" in str(item.path)}
    for group, module in modules:  # a group of several modules: their sum
        group_seconds[group] += expected.get(module, UNMEASURED_E2E_SECONDS)
    items.sort(key=lambda item: _e2e_rank(item, group_seconds))


E2E_DURATIONS = Path(__file__).parent / "e2e" / "durations.json"
UNMEASURED_E2E_SECONDS = 60  # a module with an instance of its own, until it is measured


def _expected_e2e_seconds() -> dict[str, float]:
    """Each end-to-end module's measured time, setup and teardown included
    (tests/README.md, "Running in parallel", says how to measure it again)."""
    return json.loads(E2E_DURATIONS.read_text())


def _group(item: pytest.Item) -> str:
    """The xdist group an end-to-end test is handed out in: its module's, or one that
    several modules share (they run on one worker, one after the other)."""
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0]) if mark and mark.args else item.nodeid.split("::")[0]


def _e2e_rank(item: pytest.Item, group_seconds: dict[str, float]) -> tuple[bool, float, str]:
    if "/e2e/" not in str(item.path):
        return (True, 0.0, "")
    group = _group(item)
    return (False, -group_seconds[group], group)


@pytest.fixture(autouse=True)
def default_language() -> None:
    """Each test starts in the default language: a request in Chinese leaves its
    translation active in the thread, for whichever test the worker runs next."""
    translation.deactivate()


def _name_group(item: pytest.Item) -> None:
    """What pytest-xdist 3.8 does on a worker for --dist loadgroup, for pytest 9: the
    group's name after an `@` in the test's id, which is what its scheduler groups by.
    xdist sets Node._nodeid, which pytest 9 no longer reads (the id is Node._id), so
    without this every test is handed out alone (seen: a module's instance started on
    each of three workers)."""
    marks = item.iter_markers("xdist_group")
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
    if names and item.nodeid.rfind("@") <= item.nodeid.rfind("]"):  # not named yet
        item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


@pytest.fixture(scope="session", autouse=True)
def token_signing_material() -> None:
    """The pytest process mints and verifies tokens with keys of its own data dir."""
    generate_signing_material(
        settings.HARBOR["TOKEN_KEY_PATH"],
        settings.HARBOR["TOKEN_CERT_PATH"],
        settings.HARBOR["TOKEN_ISSUER"],
    )


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    """Forget this run's cached values (only keys under this run's prefix)."""
    clear_run_cache()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One real SeaweedFS S3 gateway for the session; tests make their own buckets."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store
