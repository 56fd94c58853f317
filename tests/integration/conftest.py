"""Shared fixtures for the fast tests: users, projects, clients and the Harbor error shape."""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import User, UserGroup
from projects.models import Project, ProjectMember
from projects.roles import Role

PASSWORD = "Harbor12345"
_serial = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """PBKDF2 with a million rounds would make every user fixture cost ~0.3 s."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def modules_on_sqlite(tmp_path: Path, *modules: str) -> subprocess.CompletedProcess[str]:
    """Run test modules again on the embedded default's SQLite database, in a subprocess
    (a test that calls this skips itself there)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'harbor.db'}",
        "HARBOR_DATA_DIR": str(tmp_path / "data"),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *modules],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@contextmanager
def at_statement(
    prefix: str, step: Callable[[], object], *, before: bool = False
) -> Iterator[None]:
    """Run `step` once, after (or `before`) the first statement of this thread's database
    connection that starts with `prefix`: a race test's way into the middle of a
    transaction (a delete between its row deletes and its quota lock)."""
    fired: list[int] = []

    def wrapper(execute, sql, params, many, context):
        hit = not fired and sql.lstrip().startswith(prefix)
        if hit:
            fired.append(1)
        if hit and before:
            step()
        result = execute(sql, params, many, context)
        if hit and not before:
            step()
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert fired, f"no statement began with {prefix!r}"


def assert_harbor_error(response, status: int, code: str | None = None) -> dict:
    """The body is exactly {"errors": [{"code": str, "message": str}]} with the given status."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) == {"errors"}, body
    assert isinstance(body["errors"], list)
    assert len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert set(error) >= {"code", "message"}, error
    assert set(error) <= {"code", "message", "detail"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(
        username: str | None = None,
        *,
        password: str = PASSWORD,
        sysadmin: bool = False,
        active: bool = True,
    ) -> User:
        name = username or f"user{next(_serial)}"
        user = User(
            username=name, email=f"{name}@example.com", is_superuser=sysadmin, is_active=active
        )
        user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture
def make_project(db, make_user) -> Callable[..., Project]:
    def make(
        name: str,
        *,
        public: bool = False,
        owner: User | None = None,
        members: dict[User, int] | None = None,
    ) -> Project:
        owner = owner or make_user()
        project = Project.objects.create(name=name, owner=owner, public=public)
        ProjectMember.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
        for user, role in (members or {}).items():
            ProjectMember.objects.create(project=project, user=user, role=role)
        return project

    return make


@pytest.fixture
def make_group(db) -> Callable[..., UserGroup]:
    def make(name: str | None = None) -> UserGroup:
        serial = next(_serial)
        return UserGroup.objects.create(
            group_name=name or f"group{serial}", ldap_group_dn=f"cn=group{serial},dc=example"
        )

    return make


@pytest.fixture
def team(make_user, make_project) -> dict[str, User | Project]:
    """demo (private): owner (admin role), dev, guest, maint, limited; plus bob, an outsider."""
    users = {n: make_user(n) for n in ("owner", "dev", "guest", "maint", "limited", "bob")}
    project = make_project(
        "demo",
        owner=users["owner"],
        members={
            users["dev"]: Role.DEVELOPER,
            users["guest"]: Role.GUEST,
            users["maint"]: Role.MAINTAINER,
            users["limited"]: Role.LIMITED_GUEST,
        },
    )
    return {**users, "project": project}


@pytest.fixture
def admin(make_user) -> User:
    return make_user("admin", sysadmin=True)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """An APIClient authenticating with real HTTP Basic credentials (the cached path)."""

    def make(user: User, password: str = PASSWORD) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=basic(user.username, password))
        return client

    return make


@pytest.fixture
def redis_commands(monkeypatch) -> list[str]:
    """The name of every command sent to Redis (pipelines excepted)."""
    sent: list[str] = []
    original = redis.Redis.execute_command

    def counting(self, *args, **options):
        sent.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent
