"""The project's allowlist as Harbor's project body carries it (projects.allowlist_hook)."""

from __future__ import annotations

from typing import Any

from harbor_py.core.actor import Actor
from projects.models import Project
from scanning import selectors, services


def body(found: Any, project_id: int = 0) -> dict[str, Any]:
    """Harbor's CVEAllowlist (an empty one when none was saved)."""
    if found is None:
        return {"project_id": project_id, "items": [], "expires_at": None}
    return {
        "id": found.pk,
        "project_id": project_id,
        "items": [{"cve_id": cve} for cve in found.items],
        "expires_at": found.expires_at,
        "creation_time": found.creation_time.isoformat().replace("+00:00", "Z"),
        "update_time": found.update_time.isoformat().replace("+00:00", "Z"),
    }


def read(project: Project) -> dict[str, Any]:
    return body(selectors.allowlist_of(project), project.pk)


def write(project: Project, value: dict[str, Any], actor: Actor) -> None:
    services.set_allowlist(project=project, data=value, actor=actor)
