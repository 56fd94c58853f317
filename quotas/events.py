"""The events of project quotas (harbor_py.core.events; docs/events.md). Declared for the
webhooks (#26): nothing publishes them yet (docs/events.md says where they will be)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@event("quota_warning")
@dataclass(frozen=True)
class QuotaWarning(Event):
    """A push took the project's storage past the warning share of its limit."""

    project: str
    used: int
    hard: int


@event("quota_exceeded")
@dataclass(frozen=True)
class QuotaExceeded(Event):
    """A push was refused: it would have taken the project past its storage limit."""

    project: str
    repository: str
    digest: str
    used: int
    hard: int
    adding: int
