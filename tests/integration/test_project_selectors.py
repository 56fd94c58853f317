"""projects.selectors: a caller's roles in a project, read with a plain SELECT on the token
path, agree with the ORM's membership_filter (direct and group memberships)."""

from __future__ import annotations

import pytest

from accounts.models import Robot
from accounts.robots import RobotUser
from projects.models import ProjectMember
from projects.roles import Role
from projects.selectors import membership_filter, roles_in_project

pytestmark = pytest.mark.django_db


def _orm_roles(user, project) -> set[Role]:
    rows = ProjectMember.objects.filter(membership_filter(user), project=project)
    return {Role(value) for value in rows.values_list("role", flat=True)}


def test_direct_and_group_roles_in_one_project_only(make_user, make_project, make_group):
    alice, bob = make_user("alice"), make_user("bob")
    devs, ops = make_group("devs"), make_group("ops")
    alice.user_groups.add(devs)
    bob.user_groups.add(ops)
    here = make_project("here", members={alice: Role.GUEST})
    elsewhere = make_project("elsewhere", members={alice: Role.MAINTAINER})
    ProjectMember.objects.create(project=here, group=devs, role=Role.DEVELOPER)
    ProjectMember.objects.create(project=here, group=ops, role=Role.MAINTAINER)
    ProjectMember.objects.create(project=elsewhere, group=devs, role=Role.PROJECT_ADMIN)

    assert roles_in_project(alice, here) == {Role.GUEST, Role.DEVELOPER} == _orm_roles(alice, here)
    assert roles_in_project(bob, here) == {Role.MAINTAINER} == _orm_roles(bob, here)
    assert roles_in_project(alice, elsewhere) == {Role.MAINTAINER, Role.PROJECT_ADMIN}
    assert roles_in_project(make_user("carol"), here) == set()


def test_robots_and_anonymous_hold_no_roles(make_project, make_user):
    from django.contrib.auth.models import AnonymousUser

    project = make_project("here")
    robot = Robot.objects.create(name="robot$here+ci", secret="x", level="project")
    assert roles_in_project(RobotUser(robot), project) == set()
    assert roles_in_project(AnonymousUser(), project) == set()
