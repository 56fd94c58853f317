from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import Instance, running_instance


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One running instance (PostgreSQL, private redis) shared by the e2e session."""
    # webhooks' test receivers listen on loopback (docs/webhooks.md)
    private_targets = {"HARBOR_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    with running_instance(tmp_path_factory.mktemp("stack"), extra_env=private_targets) as instance:
        yield instance


@pytest.fixture(scope="session")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """A second plain instance: the destination (and pull-based source) of the replication
    modules, which share one xdist group (replication_support.REPLICATION), so that it
    starts once for them."""
    with running_instance(tmp_path_factory.mktemp("second")) as instance:
        yield instance


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return tmp_path
