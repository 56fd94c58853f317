"""Fields that other apps add to Harbor's Artifact body (scan_overview, sbom_overview).

`registry` knows no scanner: the app that owns a field registers, when it loads, a function
that computes it for a page of artifacts ({artifact pk: value}); the artifact endpoints
call it only when the request asks (`with_scan_overview=true`, `with_sbom_overview=true`).
Extra `addition_links` entries are registered the same way (`register_link`) and asked for
every page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.models import Artifact

Provider = Callable[[list[Artifact]], dict[int, Any]]

LinkProvider = Callable[[list[Artifact]], set[int]]

_providers: dict[str, Provider] = {}
_links: dict[str, LinkProvider] = {}


def register(field: str, provider: Provider) -> None:
    _providers[field] = provider


def values(field: str, artifacts: list[Artifact]) -> dict[int, Any]:
    provider = _providers.get(field)
    return provider(artifacts) if provider is not None and artifacts else {}


def register_link(name: str, provider: LinkProvider) -> None:
    """An `addition_links` entry `name` on the artifacts whose pks `provider` returns (e.g.
    scanning's `vulnerabilities`, on the artifacts the project's scanner can read)."""
    _links[name] = provider


def links(artifacts: list[Artifact]) -> dict[int, list[str]]:
    """{artifact pk: the extra addition names it gets}, for a page of artifacts."""
    found: dict[int, list[str]] = {}
    if not artifacts:
        return found
    for name, provider in _links.items():
        for pk in provider(artifacts):
            found.setdefault(pk, []).append(name)
    return found
