"""The events retention publishes (harbor_py.core.events; docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@event("retention_finished")
@dataclass(frozen=True)
class RetentionFinished(Event):
    """A run (not a dry run) of a project's retention policy got through its
    repositories; published as the run returns, before the runner writes its status."""

    project: str
    policy_id: int
    execution_id: int
    status: str  # the jobs' status names: Success, Error
    total: int  # artifacts evaluated
    retained: int
    deleted: tuple[str, ...]  # "repository:tag" (or "repository@digest") of each deletion
