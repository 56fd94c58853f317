"""Reads about projects and who may do what in them."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from projects.models import Project, ProjectMember
from projects.roles import REGISTRY_ACTIONS, ROLE_RANK, Role, allowed

AnyUser = User | AnonymousUser


def membership_filter(user: User) -> Q:
    group_ids = list(user.user_groups.values_list("id", flat=True))
    condition = Q(user=user)
    if group_ids:
        condition |= Q(group_id__in=group_ids)
    return condition


def roles_by_project(user: AnyUser, projects: list[Project]) -> dict[int, set[Role]]:
    """The caller's roles in each of `projects`, in one query."""
    if not user.is_authenticated or not projects:
        return {}
    rows = ProjectMember.objects.filter(membership_filter(user), project__in=projects)
    roles: dict[int, set[Role]] = {}
    for project_id, role in rows.values_list("project_id", "role"):
        roles.setdefault(project_id, set()).add(Role(role))
    return roles


def roles_in_project(user: AnyUser, project: Project) -> set[Role]:
    if not user.is_authenticated:
        return set()
    rows = ProjectMember.objects.filter(membership_filter(user), project=project)
    return {Role(value) for value in rows.values_list("role", flat=True)}


@dataclass
class ProjectAccess:
    """What one caller may do in one project."""

    project: Project
    roles: set[Role] = field(default_factory=set)
    sysadmin: bool = False

    @property
    def visible(self) -> bool:
        return self.sysadmin or self.project.public or bool(self.roles)

    @property
    def highest_role(self) -> Role | None:
        return max(self.roles, key=ROLE_RANK.__getitem__) if self.roles else None

    def can(self, resource: str, action: str) -> bool:
        return self.sysadmin or allowed(self.roles, self.project.public, resource, action)

    def registry_actions(self) -> frozenset[str]:
        if self.sysadmin:
            return frozenset({"pull", "push", "delete", "*"})
        granted: set[str] = {"pull"} if self.project.public else set()
        for role in self.roles:
            granted |= REGISTRY_ACTIONS[role]
        return frozenset(granted)


def project_access(user: AnyUser, project: Project) -> ProjectAccess:
    sysadmin = bool(user.is_authenticated and user.is_superuser)
    roles = set() if sysadmin else roles_in_project(user, project)
    return ProjectAccess(project=project, roles=roles, sysadmin=sysadmin)


def find_project(name_or_id: str, *, is_name: bool | None = None) -> Project | None:
    """Harbor's {project_name_or_id}: an ASCII number is an id unless X-Is-Resource-Name says
    name; anything else is a name, whatever the header says (as Harbor's parseProjectNameOrID).
    """
    if not is_name and name_or_id.isascii() and name_or_id.isdigit():
        return Project.objects.filter(pk=int(name_or_id)).first()
    return Project.objects.filter(name=name_or_id).first()


def visible_projects(user: AnyUser) -> QuerySet[Project]:
    projects = Project.objects.select_related("owner")
    if user.is_authenticated and user.is_superuser:
        return projects
    if not user.is_authenticated:
        return projects.filter(public=True)
    member_of = ProjectMember.objects.filter(membership_filter(user)).values("project_id")
    return projects.filter(Q(public=True) | Q(pk__in=member_of))


def project_members(project: Project) -> QuerySet[ProjectMember]:
    return ProjectMember.objects.filter(project=project).select_related("user", "group")
