from __future__ import annotations

from collections.abc import Iterator

import pytest
from _pytest.nodeid import NodeId  # pytest 9's node ids (name_the_groups)
from django.conf import settings

from accounts.keys import generate_signing_material
from tests.run_cache import clear_run_cache
from tests.seaweedfs import SeaweedFS, running_seaweedfs

MODULE_SCOPES = {"module", "class", "package"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs the suite on pytest-xdist workers (-n, --dist loadgroup), which
    take tests one at a time unless they are in one `xdist_group`. A module's tests stay
    together on one worker when they share a fixture wider than a test (an instance
    started once per module) and for every end-to-end module (its tests may build on the
    session's instance in order); a test that carries its own group keeps it."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        if not item.get_closest_marker("xdist_group"):
            fixtures = [d for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
            # Ours only, not a plugin's: pytest-django's autouse _django_setup_unittest is
            # class-scoped and would group every module.
            shared = any(d.scope in MODULE_SCOPES and _ours(d, item) for d in fixtures)
            if shared or "/e2e/" in str(item.path):
                item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
        if config.getoption("loadgroup", default=False):  # set on pytest-xdist workers
            _name_group(item)


def _ours(fixture: pytest.FixtureDef, item: pytest.Function) -> bool:
    """A fixture of the suite (a conftest's, or the test module's own), not a plugin's."""
    module = getattr(fixture.func, "__module__", "") or ""
    return module == item.module.__name__ or module.split(".")[0] == "tests"


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
