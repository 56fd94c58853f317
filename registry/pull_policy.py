"""Pull policies: conditions a project places on pulling an artifact's manifest.

Harbor refuses a manifest GET when a project policy says no: an artifact with
vulnerabilities at or above the project's severity (`prevent_vul`), or an unsigned one
(`enable_content_trust_cosign` / `enable_content_trust`). The apps that own those policies
(scanning, signatures) register a check here when they load; the /v2 gate runs every check
before it serves a manifest GET and answers the first refusal with Harbor's
`412 PROJECT_POLICY_VIOLATION`. `registry` knows no policy by name, so it imports none of
the apps that hold them.

A check runs on every pull: it must return at once (no query, no I/O) when its policy is off
in the project's metadata, and cache what it computes when it is on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from registry.models import Artifact, Repository

POLICY_VIOLATION = "PROJECT_POLICY_VIOLATION"  # Harbor's error code, with HTTP 412


@dataclass(frozen=True)
class PullRequest:
    """What a check may look at: the repository (its project loaded), the artifact the
    reference resolved to, and who pulls (the token's subject)."""

    repository: Repository
    artifact: Artifact
    subject: str

    @property
    def metadata(self) -> dict[str, str]:
        return self.repository.project.metadata or {}


# A check returns None to allow the pull, or the message of its refusal.
PullCheck = Callable[[PullRequest], str | None]

_checks: dict[str, PullCheck] = {}


class DuplicateCheck(Exception):
    pass


def register(name: str, check: PullCheck) -> None:
    """Add a check (once per name: a second registration under a name is refused)."""
    if name in _checks and _checks[name] is not check:
        raise DuplicateCheck(f"pull check {name!r} is registered already")
    _checks[name] = check


def unregister(name: str) -> None:
    _checks.pop(name, None)


def refusal(request: PullRequest) -> str | None:
    """The first check's refusal, or None when every check allows the pull."""
    for check in _checks.values():
        if (message := check(request)) is not None:
            return message
    return None
