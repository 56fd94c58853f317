"""The events the registry publishes (harbor_py.core.events; docs/events.md)."""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core.events import Event, event


@dataclass(frozen=True)
class ArtifactChange(Event):
    project: str
    repository: str
    digest: str
    tags: tuple[str, ...]
    operator: str


@event("artifact_pushed")
@dataclass(frozen=True)
class ArtifactPushed(ArtifactChange):
    """A manifest push committed: the artifact is new, or known and (re)tagged; `tags` is
    the pushed tag (none for a push by digest)."""


@event("artifact_pulled")
@dataclass(frozen=True)
class ArtifactPulled(Event):
    """Pulls of an artifact, published when the recorded pulls are aggregated (every 10 s)
    rather than per pull: `pull_time` is the latest pull of the aggregation window."""

    repository: str
    digest: str
    pull_time: str  # ISO 8601, UTC


@event("artifact_deleted")
@dataclass(frozen=True)
class ArtifactDeleted(ArtifactChange):
    """An artifact and the tags it had (read before its rows went)."""


@dataclass(frozen=True)
class TagChange(Event):
    project: str
    repository: str
    tag: str
    digest: str
    operator: str


@event("tag_created")
@dataclass(frozen=True)
class TagCreated(TagChange):
    """A push wrote a tag that did not exist (a moved tag is an artifact_pushed)."""


@event("tag_deleted")
@dataclass(frozen=True)
class TagDeleted(TagChange):
    """A tag alone was deleted; its artifact stays."""


@event("scan_finished")
@dataclass(frozen=True)
class ScanFinished(Event):
    """Declared for scanning (#22), which publishes it; nothing does yet."""

    repository: str
    digest: str
    status: str
    report_id: str
