"""The events the signatures app publishes (harbor_py.core.events; docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@event("trusted_keys_changed")
@dataclass(frozen=True)
class TrustedKeysChanged(Event):
    """A trusted key was added or deleted, in the commit that published this."""

    project_id: int  # 0: the system's keys, which every project trusts
