"""Writes about projects and members. Each runs in one transaction with its audit record."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User, UserGroup
from accounts.robot_services import forget_project
from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, conflict
from projects import proxy_endpoints
from projects.models import Project, ProjectMember
from projects.roles import Role
from projects.selectors import may_create_projects
from quotas import usage
from quotas.services import validate_hard
from quotas.usage import ensure_quota
from registry.names import PROJECT_NAME

MAX_PROJECT_NAME = 255


def validate_project_name(name: str) -> None:
    if not name or len(name) > MAX_PROJECT_NAME or not PROJECT_NAME.match(name):
        raise bad_request(
            "project name must be 1-255 lower-case letters, digits and single . _ - separators, "
            "starting and ending with a letter or digit",
            key="project.name_invalid",
        )


@transaction.atomic
def create_project(
    *,
    owner: User,
    name: str,
    public: bool = False,
    metadata: dict[str, str] | None = None,
    storage_limit: int | None = None,
    registry_id: int | None = None,
    actor: Actor,
) -> Project:
    """`storage_limit`: bytes or -1; None (or 0, as Harbor) takes the configured default.
    Only a sysadmin chooses the limit; everyone else gets the default (Harbor).
    `registry_id`: a registry endpoint, which makes the project a proxy cache of it."""
    if not may_create_projects(owner):
        raise DomainError(
            Code.FORBIDDEN,
            "only system administrators may create projects",
            key="sysadmin.only",
        )
    if not owner.is_superuser:
        storage_limit = None
    validate_project_name(name)
    if registry_id is not None:
        if not owner.is_superuser:  # Harbor: only a system admin creates a proxy cache
            raise DomainError(
                Code.FORBIDDEN,
                "only system administrators may create proxy-cache projects",
                key="sysadmin.only",
            )
        proxy_endpoints.check(registry_id)
    if Project.objects.filter(name=name).exists():
        raise conflict(
            f"the project named {name} already exists",
            key="project.name_taken",
            params={"name": name},
        )
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name,
                owner=owner,
                public=public,
                metadata=metadata or {},
                registry_id=registry_id,
            )
    except IntegrityError:
        raise conflict(
            f"the project named {name} already exists",
            key="project.name_taken",
            params={"name": name},
        ) from None
    ProjectMember.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
    hard = validate_hard(storage_limit) if storage_limit else usage.default_hard()
    ensure_quota(project=project, hard=hard)
    description = f"proxy cache of registry {registry_id}" if registry_id is not None else ""
    _record_project(project, actor, "create", description=description)
    return project


@transaction.atomic
def add_member(
    *,
    project: Project,
    role: int,
    user: User | None = None,
    group: UserGroup | None = None,
    actor: Actor,
) -> ProjectMember:
    if role not in {r.value for r in Role}:
        raise bad_request(f"invalid role_id {role}")
    if (user is None) == (group is None):
        raise bad_request("exactly one of member_user and member_group is required")
    existing = ProjectMember.objects.filter(project=project)
    if user is not None and existing.filter(user=user).exists():
        raise conflict(
            f"{user.username} is already a member of {project.name}",
            key="member.exists",
            params={"user": user.username, "project": project.name},
        )
    if group is not None and existing.filter(group=group).exists():
        raise conflict(
            f"group {group.group_name} is already a member of {project.name}",
            key="member.exists",
            params={"user": group.group_name, "project": project.name},
        )
    member = ProjectMember.objects.create(project=project, user=user, group=group, role=role)
    _record_member(member, actor, "create", description=f"role {Role(role).role_name}")
    return member


def _locked(project: Project) -> Project:
    return Project.objects.select_for_update().get(pk=project.pk)


@transaction.atomic
def update_project(*, project: Project, metadata: dict[str, str], actor: Actor) -> Project:
    """PUT /projects/{id}: as in Harbor only the metadata changes (name, owner and storage
    limit do not); `metadata` has been through projects.metadata.clean_request_metadata."""
    project = _locked(project)
    changes = dict(metadata)
    if "retention_id" in changes and changes.pop("retention_id") != project.metadata.get(
        "retention_id"
    ):
        raise bad_request(
            "the retention_id in the request's payload when updating a project should be "
            "omitted, alternatively passing the one that has already been associated to "
            "this project"
        )
    if "public" in changes:
        project.public = changes.pop("public") == "true"
    project.metadata = {**project.metadata, **changes}
    project.save(update_fields=["public", "metadata", "update_time"])
    _record_project(project, actor, "update", description=_describe(metadata))
    return project


@transaction.atomic
def delete_project(*, project: Project, actor: Actor) -> None:
    """Refused with 412 while repositories remain. The row lock makes a concurrent push,
    whose repository insert needs a key-share lock on this row, wait for the outcome."""
    project = _locked(project)
    if project.repositories.exists():
        raise DomainError(
            Code.PRECONDITION,
            "the project contains repositories, can not be deleted",
            key="project.not_empty",
        )
    _record_project(project, actor, "delete")
    forget_project(project_name=project.name)
    project.delete()


@transaction.atomic
def add_metadata(*, project: Project, key: str, value: str, actor: Actor) -> None:
    """POST /metadatas: a key that is already set is a 409, as Harbor's unique row."""
    project = _locked(project)
    if key == "public" or key in project.metadata:
        raise conflict(f"metadata {key} already exists for project {project.name}")
    project.metadata = {**project.metadata, key: value}
    project.save(update_fields=["metadata", "update_time"])
    _record_project(project, actor, "create", description=f"metadata {key}={value}")


@transaction.atomic
def set_metadata(*, project: Project, key: str, value: str, actor: Actor) -> None:
    project = _locked(project)
    if key == "public":
        project.public = value == "true"
    else:
        project.metadata = {**project.metadata, key: value}
    project.save(update_fields=["public", "metadata", "update_time"])
    _record_project(project, actor, "update", description=f"metadata {key}={value}")


@transaction.atomic
def delete_metadata(*, project: Project, key: str, actor: Actor) -> None:
    """Deleting `public` makes the project private (Harbor reads a missing key as false).
    Deleting a key that is not set succeeds without a change, as in Harbor."""
    project = _locked(project)
    if key == "public":
        if not project.public:
            return
        project.public = False
    elif key in project.metadata:
        project.metadata = {k: v for k, v in project.metadata.items() if k != key}
    else:
        return
    project.save(update_fields=["public", "metadata", "update_time"])
    _record_project(project, actor, "delete", description=f"metadata {key}")


def _describe(metadata: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(metadata.items()))


def _record_project(project: Project, actor: Actor, operation: str, description: str = "") -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type="project",
        resource=project.name,
        project_id=project.pk,
        project_name=project.name,
        description=description,
    )


def _member_entity(member: ProjectMember) -> str:
    return member.user.username if member.user else member.group.group_name  # type: ignore[union-attr]  # a member is a user or else a group


def _record_member(
    member: ProjectMember, actor: Actor, operation: str, description: str = ""
) -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type="project_member",
        resource=f"{member.project.name}:{_member_entity(member)}",
        project_id=member.project_id,
        project_name=member.project.name,
        description=description,
    )


@transaction.atomic
def update_member_role(*, member: ProjectMember, role: int, actor: Actor) -> ProjectMember:
    if role not in {r.value for r in Role}:
        raise bad_request(f"invalid role_id {role}")
    member.role = role
    member.save(update_fields=["role", "update_time"])
    _record_member(member, actor, "update", description=f"role {Role(role).role_name}")
    return member


@transaction.atomic
def delete_member(*, member: ProjectMember, actor: Actor) -> None:
    _record_member(member, actor, "delete")
    member.delete()
