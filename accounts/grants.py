"""Which of the requested registry scopes a caller gets: decided by RBAC, never by the request.

Requested actions the caller may not do are dropped, as the token spec asks.
"""

from __future__ import annotations

from accounts.tokens import Scope
from harbor_py.core.readonly import registry_actions
from projects.models import Project
from projects.selectors import AnyUser, find_project, project_access
from registry.names import project_of, valid_repository_name

REGISTRY_ACTIONS = frozenset({"pull", "push", "delete"})


def granted_actions(
    user: AnyUser, repository: str, projects: dict[str, Project | None]
) -> frozenset[str]:
    if not valid_repository_name(repository):
        return frozenset()
    name = project_of(repository)
    if name not in projects:
        projects[name] = find_project(name, is_name=True)
    project = projects[name]
    if project is None:
        return frozenset()
    return project_access(user, project).registry_actions()


def grant(user: AnyUser, requested: list[Scope]) -> list[Scope]:
    projects: dict[str, Project | None] = {}
    granted: list[Scope] = []
    for scope in requested:
        if scope.type == "registry" and scope.name == "catalog":
            if user.is_authenticated and user.is_superuser and "*" in scope.actions:
                granted.append(Scope("registry", "catalog", frozenset({"*"})))
            continue
        if scope.type != "repository":
            continue
        allowed = registry_actions(granted_actions(user, scope.name, projects))
        actions = scope.actions & allowed
        if "*" in scope.actions and "*" not in allowed:
            actions |= allowed & REGISTRY_ACTIONS
        if "push" in actions:
            actions |= {"pull"} & allowed
        if actions:
            granted.append(Scope("repository", scope.name, frozenset(actions)))
    return granted
