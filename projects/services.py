"""Writes about projects and members. Each runs in one transaction with its audit record."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User, UserGroup
from audit.services import record
from harbor_py.api.errors import bad_request, conflict
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.names import PROJECT_NAME

MAX_PROJECT_NAME = 255


def validate_project_name(name: str) -> None:
    if not name or len(name) > MAX_PROJECT_NAME or not PROJECT_NAME.match(name):
        raise bad_request(
            "project name must be 1-255 lower-case letters, digits and single . _ - separators, "
            "starting and ending with a letter or digit"
        )


@transaction.atomic
def create_project(
    *, owner: User, name: str, public: bool = False, metadata: dict[str, str] | None = None
) -> Project:
    validate_project_name(name)
    if Project.objects.filter(name=name).exists():
        raise conflict(f"the project named {name} already exists")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name, owner=owner, public=public, metadata=metadata or {}
            )
    except IntegrityError:
        raise conflict(f"the project named {name} already exists") from None
    ProjectMember.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
    record(
        username=owner.username,
        operation="create",
        resource_type="project",
        resource=name,
        project_id=project.pk,
        project_name=name,
    )
    return project


@transaction.atomic
def add_member(
    *,
    project: Project,
    role: int,
    user: User | None = None,
    group: UserGroup | None = None,
    actor: str,
) -> ProjectMember:
    if role not in {r.value for r in Role}:
        raise bad_request(f"invalid role_id {role}")
    if (user is None) == (group is None):
        raise bad_request("exactly one of member_user and member_group is required")
    existing = ProjectMember.objects.filter(project=project)
    if user is not None and existing.filter(user=user).exists():
        raise conflict(f"{user.username} is already a member of {project.name}")
    if group is not None and existing.filter(group=group).exists():
        raise conflict(f"group {group.group_name} is already a member of {project.name}")
    member = ProjectMember.objects.create(project=project, user=user, group=group, role=role)
    entity = user.username if user else group.group_name  # type: ignore[union-attr]
    record(
        username=actor,
        operation="create",
        resource_type="project_member",
        resource=f"{project.name}:{entity}",
        project_id=project.pk,
        project_name=project.name,
        description=f"role {Role(role).role_name}",
    )
    return member
