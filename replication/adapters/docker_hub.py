"""The docker-hub adapter: Docker Hub's registry, as Harbor's endpoint type `docker-hub`.

Harbor's endpoints of this type carry the web address (https://hub.docker.com); the
distribution API is at registry-1.docker.io, with bearer tokens from auth.docker.io (the
docker-registry adapter follows the challenge). Docker Hub has no catalog: it serves as a
proxy-cache upstream and a pull source of named repositories, not for listing."""

from __future__ import annotations

from typing import Any

import httpx

from replication.adapters.base import TransferError
from replication.adapters.docker_registry import DockerRegistryAdapter

REGISTRY_URL = "https://registry-1.docker.io"
WEB_HOSTS = frozenset({"hub.docker.com", "docker.io", "index.docker.io", "www.docker.com"})


class _Endpoint:
    """The endpoint with the registry's API address in place of the web one."""

    def __init__(self, endpoint: Any, url: str) -> None:
        self._endpoint = endpoint
        self.url = url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._endpoint, name)


def api_url(url: str) -> str:
    host = httpx.URL(url or REGISTRY_URL).host
    return REGISTRY_URL if not host or host in WEB_HOSTS else url


class DockerHubAdapter(DockerRegistryAdapter):
    def __init__(self, endpoint: Any, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(_Endpoint(endpoint, api_url(endpoint.url)), transport)

    def repositories(self) -> list[str]:
        raise TransferError("Docker Hub does not list its repositories: name them in a filter")
