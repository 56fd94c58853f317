"""Fields that other apps add to Harbor's Artifact body (scan_overview, sbom_overview).

`registry` knows no scanner: the app that owns a field registers, when it loads, a function
that computes it for a page of artifacts ({artifact pk: value}); the artifact endpoints
call it only when the request asks (`with_scan_overview=true`, `with_sbom_overview=true`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.models import Artifact

Provider = Callable[[list[Artifact]], dict[int, Any]]

_providers: dict[str, Provider] = {}


def register(field: str, provider: Provider) -> None:
    _providers[field] = provider


def values(field: str, artifacts: list[Artifact]) -> dict[int, Any]:
    provider = _providers.get(field)
    return provider(artifacts) if provider is not None and artifacts else {}
