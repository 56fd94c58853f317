"""The events replication publishes (harbor_py.core.events; docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@event("replication_finished")
@dataclass(frozen=True)
class ReplicationFinished(Event):
    """An execution of a replication policy ended; published as the run
    returns, just before the runner writes the execution's final status."""

    policy_id: int
    execution_id: int
    status: str  # the jobs' status names: Success, Error, Stopped
    total: int  # artifacts planned (0 when the run failed before planning)
    failed: int
