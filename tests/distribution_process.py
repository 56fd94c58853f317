"""A real distribution (Debian docker-registry) run as a child process of a test fixture."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

from tests.stack import DOCKER_REGISTRY, free_port

GATED = """
version: 0.1
log: {{level: warn}}
storage:
{storage}
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


def gated_config(storage: str, socket: Path) -> str:
    """The config of a distribution behind the gate, on a unix socket, trusting the tokens
    this process signs; `storage` holds the driver's lines of the storage section."""
    return GATED.format(
        storage=storage,
        socket=socket,
        service=settings.HARBOR["TOKEN_SERVICE"],
        issuer=settings.HARBOR["TOKEN_ISSUER"],
        cert=settings.HARBOR["TOKEN_CERT_PATH"],
    )


@contextmanager
def serving(
    base: Path,
    config: str,
    ready: Callable[[], bool],
    env: dict[str, str] | None = None,
    poll: float = 0.02,
) -> Iterator[None]:
    """Run distribution with `config` (written to base/config.yml) for the with-block, once
    `ready()`; one that exits or is not ready within 15 s raises with its log."""
    (base / "config.yml").write_text(config)
    log = (base / "registry.log").open("w")
    process = subprocess.Popen(
        [DOCKER_REGISTRY, "serve", str(base / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 15
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError((base / "registry.log").read_text())
            time.sleep(poll)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@contextmanager
def serving_tcp(base: Path) -> Iterator[str]:
    """A gated distribution with filesystem storage under `base` on a free loopback TCP
    port (for clients that need an http URL, such as the built-in scanner); its URL."""
    port = free_port()
    config = gated_config(f"  filesystem: {{rootdirectory: {base / 'storage'}}}", base / "x")
    config = config.replace(
        f"http: {{net: unix, addr: {base / 'x'}}}", f"http: {{addr: 127.0.0.1:{port}}}"
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/", timeout=0.5).status_code == 401
        except httpx.HTTPError:
            return False

    with serving(base, config, ready=ready):
        yield url
