"""Resolving {project_name}/{repository_name}/{reference} of the repository and artifact
routes, with Harbor's permission checks and the same 404 for what the caller may not see."""

from __future__ import annotations

from urllib.parse import unquote

from django.http import HttpRequest
from rest_framework.request import Request

from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from projects.models import Project
from projects.selectors import ProjectAccess, project_access
from registry import selectors
from registry.models import Artifact, Repository
from registry.names import valid_repository_name


def bool_param(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false")


def require(
    request: Request | HttpRequest, project: Project | None, key: str, resource: str, action: str
) -> ProjectAccess:
    """The caller's access to `project`, if it may do `action` on `resource` there.
    A project the caller may not see is reported exactly as a missing one."""
    if project is None:
        raise not_found(f"project {key} not found")
    access = project_access(request.user, project)
    if not access.visible:
        raise not_found(f"project {key} not found")
    if not access.can(resource, action):
        if not request.user.is_authenticated:
            raise DomainError(Code.UNAUTHORIZED, "authentication required")
        raise DomainError(
            Code.FORBIDDEN, f"not allowed to {action} {resource} of project {project.name}"
        )
    return access


def require_by_name(
    request: Request | HttpRequest, name: str, resource: str, action: str
) -> ProjectAccess:
    return require(request, Project.objects.filter(name=name).first(), name, resource, action)


def full_name(project: str, raw: str) -> str:
    """Harbor's {repository_name} is the path below the project, with "/" encoded twice
    (a%252Fb): Django has decoded it once, this decodes the second time."""
    return f"{project}/{unquote(raw)}"


def find_repository(access: ProjectAccess, name: str) -> Repository:
    repository = None
    if valid_repository_name(name):
        repository = Repository.objects.filter(project=access.project, name=name).first()
    if repository is None:
        raise not_found(f"repository {name} not found")
    return repository


def find_artifact(repository: Repository, reference: str) -> Artifact:
    artifact, _ = selectors.resolve(repository, reference)
    if artifact is None:
        raise not_found(f"artifact {repository.name}:{reference} not found")
    artifact.repository = repository
    return artifact
