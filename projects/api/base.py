"""Project-scoped endpoints: resolve {project_name_or_id}, hide what the caller may not see."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from projects.selectors import ProjectAccess, find_project, project_access


def is_resource_name(request: Any) -> bool | None:
    raw = request.headers.get("X-Is-Resource-Name")
    if raw is None:
        return None
    return raw.lower() == "true"


def bool_param(request: Request, name: str, default: bool | None = None) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false")


def require_authenticated(request: Request | HttpRequest) -> None:
    if not request.user.is_authenticated:
        raise DomainError(Code.UNAUTHORIZED, "authentication required")


def require_user(request: Request) -> None:
    """A signed-in person: robot accounts own nothing and have no profile."""
    require_authenticated(request)
    if getattr(request.user, "is_robot", False):
        raise DomainError(Code.FORBIDDEN, "not allowed for robot accounts")


class ProjectScopedView(GenericAPIView):
    """Subclasses name the (resource, action) each HTTP method needs."""

    required: dict[str, tuple[str, str]] = {}

    def project_access(self) -> ProjectAccess:
        key = self.kwargs["project_name_or_id"]
        project = find_project(key, is_name=is_resource_name(self.request))
        if project is None:
            raise not_found(f"project {key} not found")
        access = project_access(self.request.user, project)
        if not access.visible:
            raise not_found(f"project {key} not found")
        method = self.request.method or "GET"
        resource, action = self.required["GET" if method == "HEAD" else method]
        if not access.can(resource, action):
            require_authenticated(self.request)
            raise DomainError(
                Code.FORBIDDEN, f"not allowed to {action} {resource} of project {project.name}"
            )
        return access
