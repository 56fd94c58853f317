"""accounts.grants.grant: which requested registry scopes a caller gets."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.grants import grant
from accounts.tokens import Scope
from projects.models import ProjectMember
from projects.roles import Role

ALL = frozenset({"pull", "push", "delete"})
PULL = frozenset({"pull"})
PULL_PUSH = frozenset({"pull", "push"})
REGISTRY_ACTIONS = {  # each role's in a project it is a member of
    Role.PROJECT_ADMIN: ALL,
    Role.DEVELOPER: PULL_PUSH,
    Role.GUEST: PULL,
    Role.MAINTAINER: ALL,
    Role.LIMITED_GUEST: PULL,
}

pytestmark = pytest.mark.django_db


def repo(name: str, *actions: str) -> Scope:
    return Scope("repository", name, frozenset(actions))


def granted(user, *scopes: Scope) -> dict[tuple[str, str], frozenset[str]]:
    result = grant(user, list(scopes))
    as_dict = {(s.type, s.name): s.actions for s in result}
    assert len(as_dict) == len(result), result  # one entry per scope
    return as_dict


@pytest.mark.parametrize(("role", "expected"), REGISTRY_ACTIONS.items())
def test_each_role_gets_exactly_its_registry_actions(make_user, make_project, role, expected):
    assert int(role) in {1, 2, 3, 4, 5}
    user = make_user()
    make_project("priv", members={user: role})
    assert granted(user, repo("priv/app", "pull", "push", "delete")) == {
        ("repository", "priv/app"): expected
    }


@pytest.mark.parametrize(("role", "expected"), REGISTRY_ACTIONS.items())
def test_star_expands_to_the_allowed_subset(make_user, make_project, role, expected):
    user = make_user()
    make_project("priv", members={user: role})
    assert granted(user, repo("priv/app", "*")) == {("repository", "priv/app"): expected}


def test_only_requested_actions_are_granted(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.MAINTAINER})
    assert granted(user, repo("priv/app", "pull")) == {("repository", "priv/app"): PULL}
    assert granted(user, repo("priv/app", "delete")) == {
        ("repository", "priv/app"): frozenset({"delete"})
    }


def test_push_implies_pull(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.DEVELOPER})
    assert granted(user, repo("priv/app", "push")) == {("repository", "priv/app"): PULL_PUSH}


def test_guest_asking_push_only_gets_nothing(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.GUEST})
    assert grant(user, [repo("priv/app", "push", "delete")]) == []


def test_unknown_actions_are_dropped(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.PROJECT_ADMIN})
    assert granted(user, repo("priv/app", "pull", "rm", "admin")) == {
        ("repository", "priv/app"): PULL
    }


def test_non_member_gets_nothing_on_private_and_pull_on_public(make_user, make_project):
    outsider = make_user()
    make_project("priv")
    make_project("pub", public=True)
    assert granted(
        outsider,
        repo("priv/app", "pull", "push", "delete"),
        repo("pub/app", "pull", "push", "delete"),
    ) == {("repository", "pub/app"): PULL}


def test_non_member_star_on_public_gets_pull(make_user, make_project):
    outsider = make_user()
    make_project("pub", public=True)
    assert granted(outsider, repo("pub/app", "*")) == {("repository", "pub/app"): PULL}


def test_member_of_public_project_gets_role_actions(make_user, make_project):
    user = make_user()
    make_project("pub", public=True, members={user: Role.DEVELOPER})
    assert granted(user, repo("pub/app", "pull", "push", "delete")) == {
        ("repository", "pub/app"): PULL_PUSH
    }


def test_anonymous_gets_pull_on_public_only(make_project):
    make_project("priv")
    make_project("pub", public=True)
    anonymous = AnonymousUser()
    assert granted(
        anonymous,
        repo("priv/app", "pull"),
        repo("pub/app", "pull", "push", "delete"),
        repo("pub/other", "*"),
    ) == {("repository", "pub/app"): PULL, ("repository", "pub/other"): PULL}
    assert grant(anonymous, [repo("pub/app", "push")]) == []
    assert grant(anonymous, [Scope("registry", "catalog", frozenset({"*"}))]) == []


def test_sysadmin_gets_everything_and_catalog(make_user, make_project):
    root = make_user(sysadmin=True)
    make_project("priv")
    result = granted(
        root,
        repo("priv/app", "pull", "push", "delete"),
        Scope("registry", "catalog", frozenset({"*"})),
    )
    assert result == {
        ("repository", "priv/app"): ALL,
        ("registry", "catalog"): frozenset({"*"}),
    }
    star = granted(root, repo("priv/app", "*"))[("repository", "priv/app")]
    assert "*" in star


def test_non_sysadmin_gets_no_catalog(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.PROJECT_ADMIN})
    assert grant(user, [Scope("registry", "catalog", frozenset({"*"}))]) == []


def test_catalog_needs_star(make_user):
    root = make_user(sysadmin=True)
    assert grant(root, [Scope("registry", "catalog", frozenset({"pull"}))]) == []


def test_unknown_scope_types_get_nothing(make_user, make_project):
    root = make_user(sysadmin=True)
    make_project("priv")
    assert grant(root, [Scope("registry", "other", frozenset({"*"}))]) == []
    assert grant(root, [Scope("plugin", "priv/app", frozenset({"pull"}))]) == []


def test_nonexistent_project_gives_nothing(make_user):
    root = make_user(sysadmin=True)
    user = make_user()
    for caller in (root, user, AnonymousUser()):
        assert grant(caller, [repo("ghost/app", "pull", "push", "delete")]) == []


@pytest.mark.parametrize(
    "name",
    [
        "priv",
        "priv/",
        "/priv/app",
        "priv//app",
        "priv/App",
        "priv/app:tag",
        "priv/../x",
        "priv/" + "a" * 260,
        "priv/-app",
        "",
    ],
)
def test_invalid_repository_name_gives_nothing(make_user, make_project, name):
    root = make_user(sysadmin=True)
    user = make_user()
    make_project("priv", public=True, members={user: Role.PROJECT_ADMIN})
    for caller in (root, user):
        assert grant(caller, [repo(name, "pull", "push", "delete")]) == []


def test_nested_repository_paths_belong_to_the_first_component(make_user, make_project):
    user = make_user()
    make_project("priv", members={user: Role.DEVELOPER})
    assert granted(user, repo("priv/team/app", "pull", "push")) == {
        ("repository", "priv/team/app"): PULL_PUSH
    }


def test_scopes_of_several_projects_are_decided_separately(make_user, make_project):
    user = make_user()
    make_project("one", members={user: Role.GUEST})
    make_project("two", members={user: Role.MAINTAINER})
    make_project("three")
    assert granted(
        user,
        repo("one/a", "pull", "push"),
        repo("two/a", "pull", "push", "delete"),
        repo("three/a", "pull"),
        repo("one/b", "pull"),
    ) == {
        ("repository", "one/a"): PULL,
        ("repository", "two/a"): ALL,
        ("repository", "one/b"): PULL,
    }


def test_membership_in_another_project_does_not_leak(make_user, make_project):
    user = make_user()
    make_project("mine", members={user: Role.PROJECT_ADMIN})
    make_project("theirs")
    assert grant(user, [repo("theirs/app", "pull")]) == []


def test_group_member_gets_the_group_role(make_user, make_project, make_group):
    user = make_user()
    group = make_group()
    user.user_groups.add(group)
    project = make_project("priv")
    ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    assert granted(user, repo("priv/app", "pull", "push", "delete")) == {
        ("repository", "priv/app"): PULL_PUSH
    }


def test_group_role_is_not_given_to_users_outside_the_group(make_user, make_project, make_group):
    outsider = make_user()
    group = make_group()
    make_user().user_groups.add(group)
    project = make_project("priv")
    ProjectMember.objects.create(project=project, group=group, role=Role.MAINTAINER)
    assert grant(outsider, [repo("priv/app", "pull")]) == []


@pytest.mark.parametrize(
    ("direct", "via_group", "expected"),
    [
        (Role.GUEST, Role.MAINTAINER, ALL),
        (Role.DEVELOPER, Role.GUEST, PULL_PUSH),
        (Role.LIMITED_GUEST, Role.DEVELOPER, PULL_PUSH),
        (None, Role.GUEST, PULL),
    ],
)
def test_group_and_direct_roles_are_united(
    make_user, make_project, make_group, direct, via_group, expected
):
    user = make_user()
    group, other_group = make_group(), make_group()
    user.user_groups.add(group, other_group)
    project = make_project("priv", members={user: direct} if direct else None)
    ProjectMember.objects.create(project=project, group=group, role=via_group)
    assert granted(user, repo("priv/app", "pull", "push", "delete")) == {
        ("repository", "priv/app"): expected
    }
