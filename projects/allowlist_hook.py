"""The project's CVE allowlist in Harbor's project body (`cve_allowlist` of Project and
ProjectReq). The allowlist belongs to scanning, above this app: scanning registers how to
read and write it when it loads; without it the field is ignored, as before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harbor_py.core.actor import Actor
from projects.models import Project

Reader = Callable[[Project], dict[str, Any]]
Writer = Callable[[Project, dict[str, Any], Actor], None]

_hooks: dict[str, Any] = {}


def register(*, read: Reader, write: Writer) -> None:
    _hooks["read"], _hooks["write"] = read, write


def read(project: Project) -> dict[str, Any] | None:
    reader = _hooks.get("read")
    return reader(project) if reader else None


def write(project: Project, value: dict[str, Any], actor: Actor) -> None:
    writer = _hooks.get("write")
    if writer:
        writer(project, value, actor)
