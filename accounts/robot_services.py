"""Writes about robot accounts. Each runs in one transaction with its audit record.

The rule that keeps robots from escalating: every permission a robot is given must be
held by whoever gives it (`holds`), at creation and at every update. A sysadmin holds
everything; a user holds what their project roles allow; a robot holds its own grants.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from accounts.models import Robot
from accounts.options import MAX_ROBOT_DAYS
from accounts.robots import (
    ALL_PROJECTS,
    SYSTEM_NAMESPACE,
    Caller,
    RobotUser,
    new_secret,
    valid_secret,
)
from audit.services import record
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict, forbidden, not_found
from projects.models import Project
from projects.permissions import PROJECT_ROBOT_POLICIES, SYSTEM_ROBOT_POLICIES
from projects.selectors import ProjectAccess, project_access

ROBOT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SECONDS_PER_DAY = 86400
_CATALOGUE = {"system": set(SYSTEM_ROBOT_POLICIES), "project": set(PROJECT_ROBOT_POLICIES)}


@dataclass(frozen=True)
class RobotSpec:
    """What a create or update asks for (Harbor's RobotCreate / Robot bodies)."""

    name: str
    level: str
    description: str = ""
    duration: int | None = None
    disable: bool = False
    permissions: tuple[dict[str, Any], ...] = ()


def holds(caller: Caller, kind: str, namespace: str, resource: str, action: str) -> bool:
    if caller.is_superuser:
        return True
    if isinstance(caller, RobotUser):
        return caller.holds(kind, namespace, resource, action)
    if kind != "project" or namespace == ALL_PROJECTS:
        return False
    project = Project.objects.filter(name=namespace).first()
    if project is None:
        return False
    return _grants(project_access(caller, project), resource, action)


def _grants(access: ProjectAccess, resource: str, action: str) -> bool:
    # A role that reads a resource may grant listing it (Harbor's robot catalogue has
    # `metadata:list`, which no role's matrix names).
    return access.can(resource, action) or (action == "list" and access.can(resource, "read"))


def held(
    caller: Caller, kind: str, namespace: str, policies: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """`holds` for a list of (resource, action): the project and the caller's roles are
    read once, not once a permission (the robot forms offer about sixty)."""
    if caller.is_superuser or isinstance(caller, RobotUser) or kind != "project":
        return [policy for policy in policies if holds(caller, kind, namespace, *policy)]
    project = Project.objects.filter(name=namespace).first() if namespace != ALL_PROJECTS else None
    if project is None:
        return []
    access = project_access(caller, project)
    return [policy for policy in policies if _grants(access, *policy)]


def may_manage(caller: Caller, robot: Robot, action: str) -> bool:
    if robot.level == Robot.Level.SYSTEM or robot.project is None:
        return holds(caller, "system", SYSTEM_NAMESPACE, "robot", action)
    return holds(caller, "project", robot.project.name, "robot", action)


def _normalized(spec: RobotSpec, project: Project | None) -> list[dict[str, Any]]:
    """Harbor's validation of the permission list, in its canonical shape."""
    permissions: list[dict[str, Any]] = []
    for item in spec.permissions:
        kind, namespace = item.get("kind"), item.get("namespace")
        if not isinstance(kind, str) or kind not in _CATALOGUE or not isinstance(namespace, str):
            raise bad_request("each permission needs kind project or system and a namespace")
        if kind == "system" and (spec.level != "system" or namespace != SYSTEM_NAMESPACE):
            raise bad_request("system permissions belong to system robots, in namespace /")
        if kind == "project":
            if project is not None and namespace != project.name:
                raise bad_request(f"a robot of project {project.name} can only access it")
            if namespace == ALL_PROJECTS and spec.level != "system":
                raise bad_request("only system robots may cover all projects")
            if namespace != ALL_PROJECTS and not Project.objects.filter(name=namespace).exists():
                raise not_found(
                    f"project {namespace} not found",
                    key="project.not_found",
                    params={"name": namespace},
                )
        access = []
        for entry in item.get("access") or []:
            pair = (entry.get("resource"), entry.get("action"))
            if not all(isinstance(p, str) for p in pair) or pair not in _CATALOGUE[kind]:
                raise bad_request(f"{kind} permission {pair[0]}:{pair[1]} does not exist")
            access.append({"resource": pair[0], "action": pair[1], "effect": "allow"})
        if not access:
            raise bad_request("each permission needs at least one access")
        permissions.append({"kind": kind, "namespace": namespace, "access": access})
    if not permissions:
        raise bad_request("a robot needs at least one permission", key="robot.no_permission")
    if project is not None and len(permissions) != 1:
        raise bad_request("a project robot has exactly one permission, on its project")
    return permissions


def _check_grantable(caller: Caller, permissions: list[dict[str, Any]]) -> None:
    for item in permissions:
        for entry in item["access"]:
            if not holds(
                caller, item["kind"], item["namespace"], entry["resource"], entry["action"]
            ):
                raise forbidden(
                    f"cannot grant {entry['resource']}:{entry['action']} in {item['namespace']}: "
                    "a robot can never have more permissions than its creator"
                )


def _expires_at(duration: int, created: float) -> int:
    return -1 if duration == -1 else int(created) + duration * SECONDS_PER_DAY


def _duration(value: int | None) -> int:
    if value in (None, 0):
        return configuration.get("robot_token_duration")
    most = MAX_ROBOT_DAYS
    if value != -1 and not 1 <= value <= most:
        raise bad_request(
            f"duration must be either -1 (never) or a number of days from 1 to {most}"
        )
    return value


def _project_of(spec: RobotSpec) -> Project | None:
    if spec.level == Robot.Level.SYSTEM:
        return None
    if spec.level != Robot.Level.PROJECT:
        raise bad_request("level must be system or project")
    if len(spec.permissions) != 1 or spec.permissions[0].get("kind") != "project":
        raise bad_request("a project robot has exactly one permission, on its project")
    namespace = spec.permissions[0].get("namespace")
    project = Project.objects.filter(name=namespace).first() if namespace else None
    if project is None:
        raise not_found(
            f"project {namespace} not found", key="project.not_found", params={"name": namespace}
        )
    return project


def full_name(name: str, project: Project | None) -> str:
    if not name or len(name) > 128 or not ROBOT_NAME.match(name):
        raise bad_request(
            "robot name must be lower-case letters, digits and . _ - separators",
            key="robot.name_invalid",
        )
    prefix = configuration.get("robot_name_prefix")
    return f"{prefix}{project.name}+{name}" if project is not None else f"{prefix}{name}"


def _creator(caller: Caller) -> tuple[str, int]:
    if isinstance(caller, RobotUser):
        return "robot", caller.robot.pk
    return "local", caller.pk


def _record(robot: Robot, actor: Actor, operation: str, description: str = "") -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type="robot",
        resource=robot.name,
        project_id=robot.project_id,
        project_name=robot.project.name if robot.project else "",
        description=description,
    )


@transaction.atomic
def create_robot(
    *, caller: Caller, spec: RobotSpec, secret: str = "", actor: Actor
) -> tuple[Robot, str]:
    """Returns the robot and its secret, which is never shown again."""
    project = _project_of(spec)
    namespace = project.name if project else SYSTEM_NAMESPACE
    if not holds(caller, "project" if project else "system", namespace, "robot", "create"):
        raise forbidden("not allowed to create robot accounts here")
    name = full_name(spec.name, project)
    permissions = _normalized(spec, project)
    _check_grantable(caller, permissions)
    if secret and not valid_secret(secret):
        raise bad_request(
            "the secret needs 8-128 characters with upper, lower case and a digit",
            key="robot.secret_invalid",
        )
    secret = secret or new_secret()
    duration = _duration(spec.duration)
    creator_type, creator_ref = _creator(caller)
    robot = Robot(
        name=name,
        description=spec.description,
        secret=make_password(secret),
        level=spec.level,
        project=project,
        duration=duration,
        expires_at=_expires_at(duration, time.time()),
        disabled=spec.disable,
        permissions=permissions,
        creator_type=creator_type,
        creator_ref=creator_ref,
    )
    try:
        with transaction.atomic():
            robot.save()
    except IntegrityError:
        raise conflict(
            f"robot account {name} already exists", key="robot.name_taken", params={"name": name}
        ) from None
    _record(robot, actor, "create")
    return robot, secret


@transaction.atomic
def update_robot(*, caller: Caller, robot: Robot, spec: RobotSpec, actor: Actor) -> Robot:
    """PUT /robots/{id}: description, duration, disable and permissions; the name and the
    level cannot change."""
    robot = Robot.objects.select_for_update(of=("self",)).select_related("project").get(pk=robot.pk)
    if not may_manage(caller, robot, "update"):
        raise forbidden("not allowed to update this robot account")
    if spec.level != robot.level or spec.name not in (robot.name, _short_name(robot)):
        raise bad_request("the name and the level of a robot cannot be changed")
    permissions = _normalized(spec, robot.project)
    _check_grantable(caller, permissions)
    robot.description = spec.description
    robot.duration = _duration(spec.duration)
    robot.expires_at = _expires_at(robot.duration, robot.creation_time.timestamp())
    robot.disabled = spec.disable
    robot.permissions = permissions
    robot.save()
    _record(robot, actor, "update")
    return robot


def _short_name(robot: Robot) -> str:
    tail = robot.name[len(configuration.get("robot_name_prefix")) :]
    return tail.split("+", 1)[1] if robot.project_id and "+" in tail else tail


@transaction.atomic
def refresh_secret(*, caller: Caller, robot: Robot, secret: str = "", actor: Actor) -> str:
    """PATCH /robots/{id}: a new secret (given, or generated), shown once. A robot may
    refresh its own."""
    itself = isinstance(caller, RobotUser) and caller.robot.pk == robot.pk
    if not itself and not may_manage(caller, robot, "update"):
        raise forbidden("not allowed to refresh the secret of this robot account")
    if secret and not valid_secret(secret):
        raise bad_request(
            "the secret needs 8-128 characters with upper, lower case and a digit",
            key="robot.secret_invalid",
        )
    secret = secret or new_secret()
    robot.secret = make_password(secret)
    robot.save(update_fields=["secret", "update_time"])
    _record(robot, actor, "update", description="secret refreshed")
    return secret


@transaction.atomic
def delete_robot(*, caller: Caller, robot: Robot, actor: Actor) -> None:
    if not may_manage(caller, robot, "delete"):
        raise forbidden("not allowed to delete this robot account")
    _record(robot, actor, "delete")
    robot.delete()


def forget_project(*, project_name: str) -> None:
    """Part of deleting a project (in its transaction): its name may be taken again, so
    system robots lose what they were granted there (project robots go with the project)."""
    for robot in Robot.objects.select_for_update().filter(level=Robot.Level.SYSTEM):
        kept = [
            p
            for p in robot.permissions
            if not (p["kind"] == "project" and p["namespace"] == project_name)
        ]
        if len(kept) != len(robot.permissions):
            robot.permissions = kept
            robot.save(update_fields=["permissions", "update_time"])
