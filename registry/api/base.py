"""Resolving {project_name}/{repository_name}/{reference} of the repository and artifact
routes, with Harbor's permission checks and the same 404 for what the caller may not see
(the rules are projects.selectors.require_access and registry.selectors, shared with the UI)."""

from __future__ import annotations

from urllib.parse import unquote

from django.http import HttpRequest
from rest_framework.request import Request

from projects.models import Project
from projects.selectors import ProjectAccess, require_access, require_access_by_name


def require(
    request: Request | HttpRequest, project: Project | None, key: str, resource: str, action: str
) -> ProjectAccess:
    return require_access(request.user, project, key, resource, action)


def require_by_name(
    request: Request | HttpRequest, name: str, resource: str, action: str
) -> ProjectAccess:
    return require_access_by_name(request.user, name, resource, action)


def full_name(project: str, raw: str) -> str:
    """Harbor's {repository_name} is the path below the project, with "/" encoded twice
    (a%252Fb): Django has decoded it once, this decodes the second time."""
    return f"{project}/{unquote(raw)}"
