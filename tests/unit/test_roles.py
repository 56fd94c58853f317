"""projects.roles: the permission matrix, checked against Harbor's table."""

from __future__ import annotations

import re

import pytest

from projects.roles import (
    PERMISSIONS,
    PUBLIC_PERMISSIONS,
    REGISTRY_ACTIONS,
    ROLE_RANK,
    Role,
    allowed,
)
from tests.contract import REFERENCE_DIR

REFERENCE = REFERENCE_DIR / "harbor-project-roles.md"
LETTERS = {"C": "create", "R": "read", "U": "update", "D": "delete", "L": "list"}

ADMIN, DEV, GUEST, MAINT, LIMITED = (
    Role.PROJECT_ADMIN,
    Role.DEVELOPER,
    Role.GUEST,
    Role.MAINTAINER,
    Role.LIMITED_GUEST,
)


def can(role: Role, resource: str, action: str) -> bool:
    return allowed({role}, False, resource, action)


def test_role_ids_and_names():
    assert [(int(r), r.role_name) for r in Role] == [
        (1, "projectAdmin"),
        (2, "developer"),
        (3, "guest"),
        (4, "maintainer"),
        (5, "limitedGuest"),
    ]


def test_rank_orders_admin_maintainer_developer_guest_limited():
    assert sorted(Role, key=ROLE_RANK.__getitem__, reverse=True) == [
        ADMIN,
        MAINT,
        DEV,
        GUEST,
        LIMITED,
    ]


@pytest.mark.parametrize(
    ("role", "resource", "action", "expected"),
    [
        (DEV, "artifact", "create", True),
        (DEV, "artifact", "delete", False),
        (DEV, "artifact", "list", True),
        (MAINT, "artifact", "delete", True),
        (GUEST, "artifact", "create", False),
        (GUEST, "artifact", "read", True),
        (GUEST, "member", "read", True),
        (GUEST, "member", "list", True),
        (GUEST, "member", "create", False),
        (LIMITED, "member", "list", False),
        (LIMITED, "member", "read", False),
        (MAINT, "member", "create", False),
        (ADMIN, "member", "create", True),
        (ADMIN, "member", "delete", True),
        (DEV, "repository", "push", True),
        (DEV, "repository", "delete", False),
        (DEV, "repository", "update", True),
        (GUEST, "repository", "push", False),
        (LIMITED, "repository", "pull", True),
        (MAINT, "repository", "delete", True),
        (ADMIN, "project", "delete", True),
        (MAINT, "project", "delete", False),
        (ADMIN, "project", "create", False),
        (ADMIN, "log", "list", True),
        (MAINT, "log", "list", False),
        (DEV, "tag", "create", True),
        (DEV, "tag", "delete", False),
        (GUEST, "tag", "list", True),
        (LIMITED, "tag", "create", False),
        (MAINT, "immutable-tag", "create", True),
        (DEV, "immutable-tag", "list", False),
        (DEV, "tag-retention", "operate", True),
        (GUEST, "tag-retention", "list", False),
        (MAINT, "scan", "stop", True),
        (DEV, "scan", "create", False),
        (LIMITED, "scan", "read", True),
        (ADMIN, "preheat-policy", "create", True),
        (MAINT, "preheat-policy", "list", False),
        (MAINT, "notification-policy", "list", True),
        (DEV, "notification-policy", "list", False),
        (DEV, "artifact-label", "create", True),
        (GUEST, "artifact-label", "create", False),
        (LIMITED, "robot", "list", False),
        (GUEST, "robot", "list", True),
        (ADMIN, "configuration", "update", True),
        (MAINT, "configuration", "update", False),
        (MAINT, "metadata", "read", True),
        (DEV, "metadata", "read", False),
        (ADMIN, "unknown-resource", "read", False),
        (ADMIN, "artifact", "pull", False),
    ],
)
def test_matrix_spot_checks(role, resource, action, expected):
    assert can(role, resource, action) is expected


def test_registry_actions_follow_the_repository_row():
    for role in Role:
        repository = PERMISSIONS[role]["repository"]
        expected = {a for a in ("pull", "push") if a in repository}
        if "delete" in repository:
            expected.add("delete")
        assert REGISTRY_ACTIONS[role] == expected, role
    assert REGISTRY_ACTIONS[DEV] == {"pull", "push"}
    assert REGISTRY_ACTIONS[GUEST] == REGISTRY_ACTIONS[LIMITED] == {"pull"}
    assert REGISTRY_ACTIONS[ADMIN] == REGISTRY_ACTIONS[MAINT] == {"pull", "push", "delete"}


def test_roles_are_united():
    assert allowed({GUEST, DEV}, False, "artifact", "create")
    assert allowed({LIMITED, GUEST}, False, "member", "list")
    assert not allowed({GUEST, DEV}, False, "artifact", "delete")
    assert not allowed(set(), False, "project", "read")


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        ("project", "read"),
        ("label", "read"),
        ("label", "list"),
        ("repository", "list"),
        ("repository", "pull"),
        ("tag", "list"),
        ("artifact", "read"),
        ("artifact", "list"),
        ("artifact-addition", "read"),
        ("accessory", "list"),
        ("scan", "read"),
        ("scanner", "read"),
    ],
)
def test_public_projects_grant_everyone(resource, action):
    assert allowed(set(), True, resource, action)
    assert not allowed(set(), False, resource, action)


@pytest.mark.parametrize(
    ("resource", "action"),
    [
        ("repository", "push"),
        ("repository", "delete"),
        ("repository", "read"),
        ("member", "list"),
        ("member", "read"),
        ("artifact", "create"),
        ("artifact", "delete"),
        ("tag", "create"),
        ("project", "update"),
        ("project", "delete"),
        ("log", "list"),
        ("robot", "list"),
        ("quota", "read"),
        ("configuration", "read"),
        ("label", "create"),
    ],
)
def test_public_projects_grant_nothing_more(resource, action):
    assert not allowed(set(), True, resource, action)


def test_public_and_role_permissions_combine():
    assert allowed({LIMITED}, True, "label", "list")  # from public, not from the role
    assert allowed({DEV}, True, "repository", "push")  # from the role


# --- the whole table -------------------------------------------------------------------------


def _expand(cell: str) -> frozenset[str]:
    cell = cell.strip()
    if cell in ("\N{EN DASH}", "-", ""):
        return frozenset()
    actions: set[str] = set()
    for word in cell.split():
        if word.isupper():
            actions.update(LETTERS[c] for c in word)
        else:
            actions.add(word)
    return frozenset(actions)


def _reference_table() -> dict[str, dict[Role, frozenset[str]]]:
    columns = [ADMIN, MAINT, DEV, GUEST, LIMITED]
    table: dict[str, dict[Role, frozenset[str]]] = {}
    for line in REFERENCE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 6 or cells[0] in ("resource", "") or set(cells[0]) <= {"-"}:
            continue
        resource = cells[0].split()[0]
        table[resource] = {
            role: _expand(cell) for role, cell in zip(columns, cells[1:], strict=True)
        }
    return table


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not available")
def test_matrix_matches_the_reference_table():
    table = _reference_table()
    assert len(table) == 22
    assert set(table) == set(PERMISSIONS[ADMIN])
    for resource, row in table.items():
        for role, actions in row.items():
            assert PERMISSIONS[role][resource] == actions, (resource, role)


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not available")
def test_public_permissions_match_the_reference():
    text = REFERENCE.read_text()
    match = re.search(
        r"Public projects add, for everyone including anonymous callers: (.+?)\.\n", text
    )
    assert match
    expected: dict[str, frozenset[str]] = {}
    for item in match[1].split(";"):
        resource, spec = item.strip().split(" ", 1)
        expected[resource] = _expand(spec.replace(" and ", " "))
    assert expected == PUBLIC_PERMISSIONS
