"""Harbor's project roles and permission matrix (shared/reference/harbor-project-roles.md)."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    PROJECT_ADMIN = 1
    DEVELOPER = 2
    GUEST = 3
    MAINTAINER = 4
    LIMITED_GUEST = 5

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self]


ROLE_NAMES = {
    Role.PROJECT_ADMIN: "projectAdmin",
    Role.DEVELOPER: "developer",
    Role.GUEST: "guest",
    Role.MAINTAINER: "maintainer",
    Role.LIMITED_GUEST: "limitedGuest",
}

# Rank for "highest role" (current_user_role_id): admin > maintainer > developer > guest > limited.
ROLE_RANK = {
    Role.PROJECT_ADMIN: 5,
    Role.MAINTAINER: 4,
    Role.DEVELOPER: 3,
    Role.GUEST: 2,
    Role.LIMITED_GUEST: 1,
}

_LETTERS = {"C": "create", "R": "read", "U": "update", "D": "delete", "L": "list"}


def _expand(spec: str) -> frozenset[str]:
    actions: set[str] = set()
    for word in spec.split():
        if word.isupper():
            actions.update(_LETTERS[letter] for letter in word)
        else:
            actions.add(word)
    return frozenset(actions)


# resource -> (ProjectAdmin, Maintainer, Developer, Guest, LimitedGuest)
_MATRIX: dict[str, tuple[str, str, str, str, str]] = {
    "project": ("RUD", "R", "R", "R", "R"),
    "member": ("CRUDL", "RL", "RL", "RL", ""),
    "metadata": ("CRUD", "R", "", "", ""),
    "log": ("L", "", "", "", ""),
    "label": ("CRUDL", "CRUDL", "RL", "RL", ""),
    "quota": ("R", "R", "R", "R", "R"),
    "repository": ("CRUDL pull push", "CRUDL pull push", "CRUL pull push", "RL pull", "RL pull"),
    "tag-retention": ("CRUDL operate", "CRUDL operate", "CRUDL operate", "", ""),
    "immutable-tag": ("CUDL", "CUDL", "", "", ""),
    "configuration": ("RU", "R", "R", "R", "R"),
    "robot": ("CRUDL", "RL", "RL", "RL", ""),
    "notification-policy": ("CRUDL", "RL", "", "", ""),
    "scan": ("CR stop", "CR stop", "R", "R", "R"),
    "sbom": ("CR stop", "CR stop", "R", "R", "R"),
    "scanner": ("CR", "R", "R", "R", "R"),
    "artifact": ("CRDL", "CRDL", "CRL", "RL", "RL"),
    "artifact-addition": ("R", "R", "R", "R", "R"),
    "tag": ("CDL", "CDL", "CL", "L", "L"),
    "accessory": ("L", "L", "L", "L", "L"),
    "artifact-label": ("CD", "CD", "CD", "", ""),
    "preheat-policy": ("CRUDL", "", "", "", ""),
    "export-cve": ("CRL", "CRL", "CRL", "", ""),
}
RESOURCES = tuple(_MATRIX)
_COLUMN = [Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST, Role.LIMITED_GUEST]

PERMISSIONS: dict[Role, dict[str, frozenset[str]]] = {
    role: {res: _expand(specs[i]) for res, specs in _MATRIX.items()}
    for i, role in enumerate(_COLUMN)
}

# What a public project grants everyone, anonymous callers included.
PUBLIC_PERMISSIONS: dict[str, frozenset[str]] = {
    "project": frozenset({"read"}),
    "label": frozenset({"read", "list"}),
    "repository": frozenset({"list", "pull"}),
    "tag": frozenset({"list"}),
    "artifact": frozenset({"read", "list"}),
    "artifact-addition": frozenset({"read"}),
    "accessory": frozenset({"list"}),
    "scan": frozenset({"read"}),
    "scanner": frozenset({"read"}),
}

# Registry token actions per role (ARCHITECTURE.md §2).
REGISTRY_ACTIONS: dict[Role, frozenset[str]] = {
    Role.PROJECT_ADMIN: frozenset({"pull", "push", "delete"}),
    Role.MAINTAINER: frozenset({"pull", "push", "delete"}),
    Role.DEVELOPER: frozenset({"pull", "push"}),
    Role.GUEST: frozenset({"pull"}),
    Role.LIMITED_GUEST: frozenset({"pull"}),
}


def allowed(roles: set[Role], public: bool, resource: str, action: str) -> bool:
    if public and action in PUBLIC_PERMISSIONS.get(resource, frozenset()):
        return True
    return any(action in PERMISSIONS[role].get(resource, frozenset()) for role in roles)
