"""Robot accounts as callers: checking a robot's secret, and what an authenticated robot
holds (Harbor's RobotPermission list, evaluated per namespace).

A robot is not a `User` row: `RobotUser` stands in for one on `request.user` and in the
token service. Project permissions are keyed by the project's name, or `*` for every
project; system permissions by `/`.
"""

from __future__ import annotations

import secrets
import string
import time
from functools import cached_property
from typing import TYPE_CHECKING, cast

from django.contrib.auth.hashers import make_password

from accounts.credentials import check_cached
from accounts.login_errors import LoginRefused
from accounts.models import Robot, User
from harbor_py.core import configuration
from harbor_py.core.db import fetch_one

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

ALL_PROJECTS = "*"
SYSTEM_NAMESPACE = "/"
SECRET_LENGTH = 32
Policy = tuple[str, str]  # (resource, action)


class RobotRefused(LoginRefused):
    """The secret was right but the robot may not log in (disabled or expired)."""


class RobotUser:
    """An authenticated robot in the place of a user: no sysadmin, no memberships."""

    is_robot = True
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None

    def __init__(self, robot: Robot) -> None:
        self.robot = robot

    @property
    def username(self) -> str:
        return self.robot.name

    @cached_property
    def policies(self) -> dict[tuple[str, str], frozenset[Policy]]:
        """(kind, namespace) -> the (resource, action) pairs granted there."""
        return permission_sets(self.robot.permissions)

    def holds(self, kind: str, namespace: str, resource: str, action: str) -> bool:
        granted = self.policies.get((kind, namespace), frozenset())
        if kind == "project" and namespace != ALL_PROJECTS:
            granted |= self.policies.get(("project", ALL_PROJECTS), frozenset())
        return (resource, action) in granted

    def project_policies(self, project_name: str) -> frozenset[Policy]:
        return self.policies.get(("project", project_name), frozenset()) | self.policies.get(
            ("project", ALL_PROJECTS), frozenset()
        )

    @property
    def all_projects(self) -> bool:
        return bool(self.policies.get(("project", ALL_PROJECTS)))

    @property
    def project_names(self) -> list[str]:
        return [ns for kind, ns in self.policies if kind == "project" and ns != ALL_PROJECTS]


def permission_sets(permissions: list[dict]) -> dict[tuple[str, str], frozenset[Policy]]:
    result: dict[tuple[str, str], frozenset[Policy]] = {}
    for permission in permissions:
        key = (permission["kind"], permission["namespace"])
        granted = {
            (a["resource"], a["action"])
            for a in permission.get("access") or []
            if a.get("effect", "allow") != "deny"
        }
        result[key] = result.get(key, frozenset()) | granted
    return result


def is_robot_name(username: str) -> bool:
    return username.startswith(configuration.get("robot_name_prefix"))


def new_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        secret = "".join(secrets.choice(alphabet) for _ in range(SECRET_LENGTH))
        if valid_secret(secret):
            return secret


def valid_secret(secret: str) -> bool:
    """Harbor's rule: 8-128 characters with an upper-case letter, a lower-case letter and
    a digit."""
    return (
        8 <= len(secret) <= 128
        and any(c.isupper() for c in secret)
        and any(c.islower() for c in secret)
        and any(c.isdigit() for c in secret)
    )


def expired(robot: Robot, now: float | None = None) -> bool:
    return robot.expires_at != -1 and robot.expires_at <= (now or time.time())


def usable(robot: Robot) -> bool:
    return not robot.disabled and not expired(robot)


def authenticate(name: str, secret: str) -> RobotUser | None:
    """The robot for a right name and secret; None otherwise. Raises RobotRefused when the
    secret is right but the robot is disabled or expired (only then: no status oracle)."""
    # A plain SELECT: CI pipelines log in with robots on every token (harbor_py.core.db says why).
    robot = fetch_one(Robot, "name = %s", [name]) if secret and len(secret) <= 1024 else None
    if robot is None:
        make_password(secret or "x")  # the same cost as a real check
        return None
    if not check_cached(
        username=name, subject=f"robot:{robot.pk}", stored_hash=robot.secret, password=secret
    ):
        return None
    if robot.disabled:
        raise RobotRefused(f"the robot account {name} is disabled")
    if expired(robot):
        raise RobotRefused(f"the robot account {name} has expired")
    return RobotUser(robot)


def active_robot(name: str) -> RobotUser | None:
    """The robot that a token subject names, if it may still act."""
    robot = fetch_one(Robot, "name = %s", [name])
    return RobotUser(robot) if robot is not None and usable(robot) else None


Caller = User | RobotUser


def caller_of(request: HttpRequest | Request) -> Caller:
    """`request.user` behind a sign-in check. Our authentication may put a `RobotUser`
    there, which Django's types (User | AnonymousUser) cannot know."""
    return cast(Caller, request.user)


def person_of(request: HttpRequest | Request) -> User:
    """`request.user` behind a check that a person signed in (not anonymous, not a robot)."""
    return cast(User, request.user)
