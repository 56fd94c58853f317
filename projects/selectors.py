"""Reads about projects and who may do what in them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from accounts.models import User
from accounts.robots import RobotUser
from harbor_py.core import configuration
from harbor_py.core.db import fetch_all, fetch_one
from harbor_py.core.errors import Code, DomainError, not_found
from harbor_py.core.query import Field, apply_query, apply_sort, as_bool, as_int, as_time
from projects.models import Project, ProjectMember
from projects.roles import REGISTRY_ACTIONS, ROLE_RANK, Role, allowed
from registry.models import Repository

# Who may be on request.user: a robot stands in for a user (accounts.robots).
AnyUser = User | AnonymousUser | RobotUser


def membership_filter(user: User | RobotUser) -> Q:
    """Rows of `user` as a member directly or through one of their groups (one subquery,
    not a separate round trip for the groups). A robot is a member of nothing."""
    if isinstance(user, RobotUser):
        return Q(pk__in=[])
    groups = User.user_groups.through.objects.filter(user_id=user.pk).values("usergroup_id")
    return Q(user=user) | Q(group_id__in=groups)


def roles_by_project(user: AnyUser, projects: list[Project]) -> dict[int, set[Role]]:
    """The caller's roles in each of `projects`, in one query."""
    if not user.is_authenticated or not projects:
        return {}
    rows = ProjectMember.objects.filter(membership_filter(user), project__in=projects)
    roles: dict[int, set[Role]] = {}
    for project_id, role in rows.values_list("project_id", "role"):
        roles.setdefault(project_id, set()).add(Role(role))
    return roles


@cache
def _membership_in_project() -> str:
    """membership_filter for one project, as SQL: the token service asks it for every token
    of a member (a plain SELECT; harbor_py.core.db says why)."""
    through = User.user_groups.through._meta
    user_column = through.get_field("user").column
    group_column = through.get_field("usergroup").column
    return (
        "project_id = %s AND (user_id = %s OR group_id IN "
        f"(SELECT {group_column} FROM {through.db_table} WHERE {user_column} = %s))"
    )


def roles_in_project(user: AnyUser, project: Project) -> set[Role]:
    if not user.is_authenticated or getattr(user, "is_robot", False):
        return set()
    rows = fetch_all(ProjectMember, _membership_in_project(), [project.pk, user.pk, user.pk])
    return {Role(row.role) for row in rows}


@dataclass
class ProjectAccess:
    """What one caller may do in one project."""

    project: Project
    roles: set[Role] = field(default_factory=set)
    sysadmin: bool = False
    # A robot's (resource, action) grants in this project; None for everyone else.
    robot_policies: frozenset[tuple[str, str]] | None = None

    @property
    def visible(self) -> bool:
        return self.sysadmin or self.project.public or bool(self.roles or self.robot_policies)

    @property
    def highest_role(self) -> Role | None:
        return max(self.roles, key=ROLE_RANK.__getitem__) if self.roles else None

    def can(self, resource: str, action: str) -> bool:
        if self.robot_policies is not None and (resource, action) in self.robot_policies:
            return True
        return self.sysadmin or allowed(self.roles, self.project.public, resource, action)

    def registry_actions(self) -> frozenset[str]:
        """A proxy-cache project takes no push from anyone (Harbor's RBAC drops it)."""
        if self.sysadmin:
            granted: set[str] = {"pull", "push", "delete", "*"}
        else:
            granted = {"pull"} if self.project.public else set()
            for action in ("pull", "push", "delete"):
                if ("repository", action) in (self.robot_policies or ()):
                    granted.add(action)
            for role in self.roles:
                granted |= REGISTRY_ACTIONS[role]
        if self.project.registry_id is not None:
            granted.discard("push")
        return frozenset(granted)


def project_access(user: AnyUser, project: Project) -> ProjectAccess:
    if isinstance(user, RobotUser):
        policies = user.project_policies(project.name)
        return ProjectAccess(project=project, robot_policies=policies)
    sysadmin = bool(user.is_authenticated and user.is_superuser)
    roles = set() if sysadmin else roles_in_project(user, project)
    return ProjectAccess(project=project, roles=roles, sysadmin=sysadmin)


def require_access(
    user: AnyUser, project: Project | None, key: str, resource: str, action: str
) -> ProjectAccess:
    """The caller's access to `project`, if it may do `action` on `resource` there.
    A project the caller may not see is reported exactly as a missing one."""
    if project is None:
        raise not_found(f"project {key} not found", key="project.not_found", params={"name": key})
    access = project_access(user, project)
    if not access.visible:
        raise not_found(f"project {key} not found", key="project.not_found", params={"name": key})
    if not access.can(resource, action):
        if not user.is_authenticated:
            raise DomainError(Code.UNAUTHORIZED, "authentication required")
        raise DomainError(
            Code.FORBIDDEN,
            f"not allowed to {action} {resource} of project {project.name}",
            key="role.forbidden",
            params={"project": project.name},
        )
    return access


def require_access_by_name(user: AnyUser, name: str, resource: str, action: str) -> ProjectAccess:
    return require_access(user, Project.objects.filter(name=name).first(), name, resource, action)


def may_create_projects(user: AnyUser) -> bool:
    """Harbor's project_creation_restriction: everyone, or system administrators only."""
    restriction = configuration.get("project_creation_restriction")
    return bool(user.is_superuser) or restriction != "adminonly"


def find_project(name_or_id: str, *, is_name: bool | None = None) -> Project | None:
    """Harbor's {project_name_or_id}: an ASCII number is an id unless X-Is-Resource-Name says
    name; anything else is a name, whatever the header says (as Harbor's parseProjectNameOrID).
    """
    if not is_name and name_or_id.isascii() and name_or_id.isdigit():
        return fetch_one(Project, "id = %s", [int(name_or_id)])
    return fetch_one(Project, "name = %s", [name_or_id])


# The project row a registry write read at its start, standing for its project until the
# write ends (`standing_for`): consumers' filters that run in the write's transaction read
# it from here instead of the table (a push into a project whose settings changed a few ms
# earlier is decided as one a few ms earlier would have been).
_standing: ContextVar[Project | None] = ContextVar("projects_standing_row", default=None)


@contextmanager
def standing_for(project: Project) -> Iterator[None]:
    token = _standing.set(project)
    try:
        yield
    finally:
        _standing.reset(token)


def project_named(name: str) -> Project | None:
    """The project called `name`: the row of `standing_for` when it is that one."""
    standing = _standing.get()
    if standing is not None and standing.name == name:
        return standing
    return find_project(name, is_name=True)


def visible_projects(user: AnyUser) -> QuerySet[Project]:
    projects = Project.objects.select_related("owner")
    if user.is_authenticated and user.is_superuser:
        return projects
    if not user.is_authenticated:
        return projects.filter(public=True)
    if isinstance(user, RobotUser):
        if user.all_projects:
            return projects
        return projects.filter(Q(public=True) | Q(name__in=user.project_names))
    return projects.filter(Q(public=True) | Q(pk__in=member_project_ids(user)))


def member_project_ids(user: User | RobotUser) -> QuerySet[ProjectMember, Any]:
    """A subquery of the ids of the projects `user` is a member of, directly or by group."""
    return ProjectMember.objects.filter(membership_filter(user)).values("project_id")


def project_members(project: Project) -> QuerySet[ProjectMember]:
    return ProjectMember.objects.filter(project=project).select_related("user", "group")


def project_metadata(project: Project) -> dict[str, str]:
    """Harbor's metadata map: the stored keys plus `public`, from its own column."""
    return {**project.metadata, "public": "true" if project.public else "false"}


PROJECT_QUERY = {
    "name": Field("name"),
    "project_id": Field("pk", cast=as_int, fuzzy=False, ranged=True),
    "owner_id": Field("owner_id", cast=as_int, fuzzy=False),
    "owner": Field("owner__username"),
    "public": Field("public", cast=as_bool, fuzzy=False),
    "creation_time": Field("creation_time", cast=as_time, fuzzy=False, ranged=True),
    "update_time": Field("update_time", cast=as_time, fuzzy=False, ranged=True),
}
PROJECT_SORT = {
    "name": "name",
    "project_id": "pk",
    "owner_id": "owner_id",
    "creation_time": "creation_time",
    "update_time": "update_time",
}


def list_projects(
    user: AnyUser,
    *,
    q: str | None = None,
    sort: str | None = None,
    name: str | None = None,
    public: bool | None = None,
    owner: str | None = None,
) -> QuerySet[Project]:
    """GET /projects: what the caller may see, filtered by q= and the plain parameters."""
    projects = apply_query(visible_projects(user), q, PROJECT_QUERY)
    if name:
        projects = projects.filter(name__icontains=name)
    if public is not None:
        projects = projects.filter(public=public)
    if owner:
        projects = projects.filter(owner__username=owner)
    return apply_sort(with_repo_count(projects), sort, PROJECT_SORT, default=["name"])


def with_repo_count(projects: QuerySet[Project]) -> QuerySet[Project]:
    """`repo_count` as a correlated subquery: no join and no GROUP BY, so counting and
    paginating the list stay cheap."""
    counts = (
        Repository.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return projects.annotate(repo_count=Coalesce(Subquery(counts), 0))


def project_with_details(project: Project) -> Project:
    return with_repo_count(Project.objects.select_related("owner")).get(pk=project.pk)


def repository_count(project: Project) -> int:
    return project.repositories.count()


def deletable(project: Project) -> tuple[bool, str]:
    """Harbor's rule: a project that still holds repositories cannot be deleted."""
    if repository_count(project):
        return False, "the project contains repositories, can not be deleted"
    return True, ""


def member_counts(project: Project) -> dict[Role, int]:
    rows = ProjectMember.objects.filter(project=project).values_list("role").annotate(n=Count("pk"))
    counts = dict.fromkeys(Role, 0)
    for role, n in rows:
        counts[Role(role)] = n
    return counts


def project_member(project: Project, member_id: int) -> ProjectMember | None:
    return project_members(project).filter(pk=member_id).first()
