"""Who does something, and from where: the value every writing or auditing service takes
as `actor=`. Each surface builds it once per request (`Actor.of_request`: the REST API, the
/v2 gate, the UI), each job once per run (`Actor.system`); the audit log records its name
and address."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from django.http import HttpRequest
from rest_framework.request import Request

from harbor_py.core.http import client_address


class _Person(Protocol):
    @property
    def pk(self) -> Any: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    username: str
    user_id: int | None = None
    client_address: str = ""
    robot_id: int | None = None  # a robot account acting in place of a user
    is_system: bool = False  # a job (GC, replication, a scheduled run), not a caller

    @classmethod
    def of_user(cls, user: _Person, *, address: str = "") -> Actor:
        """A user or a robot (accounts.robots.RobotUser, whose pk is None)."""
        robot = getattr(user, "robot", None) if getattr(user, "is_robot", False) else None
        return cls(
            username=user.username,
            user_id=user.pk,
            client_address=address,
            robot_id=robot.pk if robot is not None else None,
        )

    @classmethod
    def of_request(cls, request: HttpRequest | Request) -> Actor:
        """The caller of a request: its (authenticated or anonymous) user and address."""
        return cls.of_user(request.user, address=client_address(request))

    @classmethod
    def system(cls, name: str) -> Actor:
        """A job acting on its own; `name` is what the audit log shows."""
        return cls(username=name, is_system=True)
