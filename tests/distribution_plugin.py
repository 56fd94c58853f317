"""A real distribution (Debian docker-registry) for the fast tests that need storage:
copies, deletions and pushes through the gate. It trusts the pytest process's signing
certificate, listens on a unix socket and starts in well under a second. Load it with
`pytest_plugins = ["tests.distribution_plugin"]` and use the `distribution` fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from registry import upstream
from tests.stack import DOCKER_REGISTRY

CONFIG = """
version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
  redirect: {{disable: true}}
http: {{net: unix, addr: {socket}}}
auth:
  token:
    realm: http://127.0.0.1/service/token
    service: {service}
    issuer: {issuer}
    rootcertbundle: {cert}
"""


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
    (base / "config.yml").write_text(
        CONFIG.format(
            root=base / "storage",
            socket=socket,
            service=settings.HARBOR["TOKEN_SERVICE"],
            issuer=settings.HARBOR["TOKEN_ISSUER"],
            cert=settings.HARBOR["TOKEN_CERT_PATH"],
        )
    )
    log = (base / "registry.log").open("w")
    process = subprocess.Popen(
        [DOCKER_REGISTRY, "serve", str(base / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 15
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((base / "registry.log").read_text())
        time.sleep(0.02)
    yield Distribution(url=f"unix://{socket}", root=base / "storage")
    process.terminate()
    process.wait(timeout=10)
    log.close()
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
