"""Replication's registry adapters: what a registry must offer to be a source or a
destination of replication (`RegistryAdapter`), the values they exchange, and the registry
of adapter types (one per kind of registry endpoint; ReplicationConfig.ready registers
them) that the API's /replication/adapters lists and `open_adapter` picks from.

One module per adapter: `docker_registry` (any registry speaking the distribution v2 API,
with token or basic auth), `harbor` (a Harbor: the v2 API plus its REST API for listings,
projects and tag deletion); `replication.local` is this instance's own distribution.
`v2.V2Client` is the distribution v2 client they share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

Grants = tuple[tuple[str, frozenset[str]], ...]  # (repository, actions)
PULL, PUSH = frozenset({"pull"}), frozenset({"pull", "push"})
DELETE = frozenset({"pull", "delete"})


class TransferError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused, 0 when there was no answer

    @property
    def refused(self) -> bool:
        """Refused for good (credentials, permissions): retrying cannot help."""
        return self.status in (401, 403)


@dataclass(frozen=True)
class SourceArtifact:
    digest: str
    tags: tuple[str, ...]
    labels: frozenset[str] = frozenset()
    # digests of its accessories (artifacts whose subject it is), when the listing knows them
    accessories: tuple[str, ...] = ()


@dataclass
class Inventory:
    """What one destination repository holds: its tags and the digests of its artifacts
    (accessories and index children included), read once per repository and run."""

    tags: dict[str, str]
    digests: set[str]
    # asks about a digest the listing does not show (a plain registry lists tags only)
    probe: Callable[[str], bool] | None = None

    def has(self, digest: str) -> bool:
        return digest in self.digests or (self.probe is not None and self.probe(digest))

    def holds(self, digest: str, tags: Iterable[str], accessories: Iterable[str]) -> bool:
        return (
            all(self.tags.get(tag) == digest for tag in tags)
            and self.has(digest)
            and all(self.has(accessory) for accessory in accessories)
        )


def grants(repository: str, actions: frozenset[str], *also: tuple[str, frozenset[str]]) -> Grants:
    return ((repository, actions), *also)


class RegistryAdapter(Protocol):
    """A registry replication reads from (source) or writes to (destination)."""

    # the actions its HEADs ask for: a destination asks pull,push (one token serves both)
    probe_actions: frozenset[str]

    def close(self) -> None: ...

    # -- source side
    def repositories(self) -> list[str]: ...
    def artifacts(self, repository: str) -> list[SourceArtifact]: ...
    def manifest(self, repository: str, reference: str) -> tuple[bytes, str] | None: ...
    def open_blob(self, repository: str, digest: str) -> AbstractContextManager[httpx.Response]: ...
    def referrers(self, repository: str, digest: str) -> list[str]: ...
    def subject_of(self, repository: str, digest: str) -> str | None: ...

    # -- destination side
    def manifest_digest(self, repository: str, reference: str) -> str | None: ...
    def inventory(self, repository: str) -> Inventory: ...
    def put_manifest(
        self, repository: str, reference: str, body: bytes, media_type: str
    ) -> None: ...
    def delete_manifest(self, repository: str, digest: str) -> bool: ...
    def delete_tag(self, repository: str, tag: str) -> bool: ...
    def has_blob(self, repository: str, digest: str) -> bool: ...
    def locate(self, digest: str) -> str | None: ...
    def mount(self, repository: str, digest: str, source: str) -> str | None: ...
    def upload(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Iterable[bytes],
        *,
        location: str | None = None,
        chunk_size: int = 0,
    ) -> None: ...
    def ensure_namespace(self, namespace: str) -> bool: ...
    def repositories_in(self, namespace: str) -> set[str] | None: ...


class RemoteAdapter(RegistryAdapter, Protocol):
    """An adapter of a registry endpoint (another registry): it can be pinged."""

    client: httpx.Client

    def ping(self) -> None: ...


# (the endpoint: a RegistryEndpoint or alike, an httpx transport for tests) -> the adapter
AdapterFactory = Callable[[Any, httpx.BaseTransport | None], RemoteAdapter]


@dataclass(frozen=True)
class AdapterType:
    name: str  # the endpoint type: RegistryEndpoint.type
    open: AdapterFactory
    filters: tuple[str, ...]  # the replication filters its listings support


_TYPES: dict[str, AdapterType] = {}


def register(adapter_type: AdapterType) -> None:
    if adapter_type.name in _TYPES:
        raise ValueError(f"the registry adapter {adapter_type.name} is registered twice")
    _TYPES[adapter_type.name] = adapter_type


def adapter_types() -> list[AdapterType]:
    return [_TYPES[name] for name in sorted(_TYPES)]


def adapter_type(name: str) -> AdapterType:
    try:
        return _TYPES[name]
    except KeyError:
        raise TransferError(f"no registry adapter for the type {name!r}") from None


def open_adapter(endpoint: Any, transport: httpx.BaseTransport | None = None) -> RemoteAdapter:
    """The adapter of a registry endpoint, by its type."""
    kind = adapter_type(endpoint.type)
    try:
        return kind.open(endpoint, transport)
    except (httpx.InvalidURL, ValueError) as exc:  # an endpoint stored before its URL check
        raise TransferError(f"the registry URL {endpoint.url!r} is invalid: {exc}") from None
