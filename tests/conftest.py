from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from accounts.keys import generate_signing_material
from tests.run_cache import clear_run_cache
from tests.seaweedfs import SeaweedFS, running_seaweedfs

MODULE_SCOPES = {"module", "class", "package"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs the suite on pytest-xdist workers (-n, --dist loadgroup), which
    take tests one at a time unless they are in one `xdist_group`. A module's tests stay
    together on one worker when they share a fixture wider than a test (an instance
    started once per module) and for every end-to-end module (its tests may build on the
    session's instance in order); a test that carries its own group keeps it."""
    for item in items:
        if item.get_closest_marker("xdist_group") or not isinstance(item, pytest.Function):
            continue
        fixtures = item._fixtureinfo.name2fixturedefs.values()
        # Ours only (a plugin's fixture has no baseid): pytest-django's autouse
        # _django_setup_unittest is class-scoped and would group every module.
        shared = any(d.scope in MODULE_SCOPES and d.baseid for defs in fixtures for d in defs)
        if shared or "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


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
