"""A real distribution (Debian docker-registry) for the fast tests that need storage:
copies, deletions and pushes through the gate. It trusts the pytest process's signing
certificate, listens on a unix socket and starts in well under a second. Load it with
`pytest_plugins = ["tests.distribution_plugin"]` and use the `distribution` fixture.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry import upstream
from tests.distribution_process import gated_config, serving
from tests.stack import DOCKER_REGISTRY


@dataclass
class Distribution:
    url: str
    root: Path


@pytest.fixture(scope="session")
def distribution_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    if not os.path.exists(DOCKER_REGISTRY):
        pytest.skip("docker-registry is not installed")
    base = tmp_path_factory.mktemp("distribution")
    socket = base / "registry.sock"
    config = gated_config(f"  filesystem: {{rootdirectory: {base / 'storage'}}}", socket)
    with serving(base, config, ready=socket.exists):
        yield Distribution(url=f"unix://{socket}", root=base / "storage")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def distribution(settings, distribution_server: Distribution) -> Iterator[Distribution]:
    settings.HARBOR = {
        **settings.HARBOR,
        "REGISTRY_URL": distribution_server.url,
        "STORAGE_ROOT": str(distribution_server.root),
    }
    upstream.reset_client()
    yield distribution_server
    upstream.reset_client()
