"""Permission catalogues: GET /permissions and GET /users/current/permissions.

GET /permissions lists what a robot account may be granted (Harbor's rbac.PoliciesMap);
/users/current/permissions evaluates the caller's own permissions in one namespace,
`/system` or `/project/{id}`, with resources named as Harbor names them
(`/project/1` for the project itself, `/project/1/repository`, ...; relative: `.`,
`repository`).
"""

from __future__ import annotations

import re

from projects.models import Project
from projects.roles import PERMISSIONS, PUBLIC_PERMISSIONS, RESOURCES
from projects.selectors import AnyUser, project_access

Policy = tuple[str, str]

_SYSTEM_ROBOT = {
    "audit-log": "list",
    "preheat-instance": "read create delete list update",
    "project": "list create",
    "replication-policy": "read create delete list update",
    "replication": "read create list",
    "replication-adapter": "list",
    "registry": "read create delete list update",
    "scan-all": "read update stop create",
    "system-volumes": "read",
    "garbage-collection": "read create list update stop",
    "purge-audit": "read create list update stop",
    "jobservice-monitor": "list stop",
    "scanner": "read create delete list update",
    "label": "read create delete update",
    "security-hub": "read list",
    "catalog": "read",
    "quota": "read list",
}
_PROJECT_ROBOT = {
    "log": "list",
    "project": "read delete update",
    "metadata": "read create delete list update",
    "repository": "read update delete list pull push",
    "artifact": "read create list delete",
    "scan": "create read stop",
    "tag": "create list delete",
    "accessory": "list",
    "artifact-addition": "read",
    "artifact-label": "create delete",
    "scanner": "create read",
    "preheat-policy": "read create delete list update",
    "immutable-tag": "create delete list update",
    "notification-policy": "read create delete list update",
    "tag-retention": "read create delete list update",
    "label": "read create delete list update",
    "quota": "read",
}
# What a sysadmin holds in the /system namespace (Harbor's rbac/system policies).
_SYSTEM_NAMESPACE = {
    "catalog": "read",
    "audit-log": "list",
    "project": "create read update delete list",
    "user": "create read update delete list",
    "user-group": "create read update delete list",
    "registry": "create read update delete list",
    "replication": "create read update list delete",
    "distribution": "create read update delete list",
    "garbage-collection": "create read update delete list",
    "scan-all": "create read update delete list",
    "system-volumes": "read",
    "ldap-user": "create list",
    "configuration": "read update",
}
_ACTION_ORDER = ["create", "read", "update", "delete", "list", "pull", "push", "operate", "stop"]


def _flatten(table: dict[str, str]) -> list[Policy]:
    return [(resource, action) for resource, actions in table.items() for action in actions.split()]


SYSTEM_ROBOT_POLICIES = _flatten(_SYSTEM_ROBOT)
PROJECT_ROBOT_POLICIES = _flatten(_PROJECT_ROBOT)
SYSTEM_POLICIES = _flatten(_SYSTEM_NAMESPACE)


def _project_policies() -> list[Policy]:
    """Every (resource, action) some role or public access grants, in matrix order."""
    policies: list[Policy] = []
    for resource in RESOURCES:
        actions: set[str] = set(PUBLIC_PERMISSIONS.get(resource, ()))
        for table in PERMISSIONS.values():
            actions |= table[resource]
        policies.extend((resource, a) for a in sorted(actions, key=_ACTION_ORDER.index))
    return policies


PROJECT_POLICIES = _project_policies()
_PROJECT_SCOPE = re.compile(r"^/project/([^/]*)/?")


def as_dicts(policies: list[Policy]) -> list[dict[str, str]]:
    return [{"resource": resource, "action": action} for resource, action in policies]


def _granted(user: AnyUser, scope: str) -> list[tuple[str, str]]:
    """(full resource, action) pairs the caller holds in the namespace `scope` names."""
    sysadmin = bool(user.is_authenticated and user.is_superuser)
    if scope.startswith("/system"):
        return [(f"/system/{r}", a) for r, a in SYSTEM_POLICIES] if sysadmin else []
    match = _PROJECT_SCOPE.match(scope)
    if not match or not match[1].isascii() or not match[1].isdigit():
        return []
    prefix = f"/project/{int(match[1])}"
    project = Project.objects.filter(pk=int(match[1])).first()
    if project is None and not sysadmin:
        return []
    access = project_access(user, project) if project is not None else None
    return [
        (prefix if resource == "project" else f"{prefix}/{resource}", action)
        for resource, action in PROJECT_POLICIES
        if access is None or access.can(resource, action)
    ]


def current_permissions(user: AnyUser, scope: str, *, relative: bool) -> list[dict[str, str]]:
    result = []
    for resource, action in _granted(user, scope):
        if relative:
            if not resource.startswith(scope.rstrip("/")):
                continue
            resource = resource[len(scope.rstrip("/")) :].lstrip("/") or "."
        result.append({"resource": resource, "action": action})
    return result


# Resources of Harbor's catalogue that a robot cannot use here (no preheat; scan-all, the
# security hub, the job service monitor and the audit purge are for system admins only).
# GET /permissions still lists them as Harbor does; the UI does not offer them.
UNSERVED_RESOURCES = frozenset(
    {
        "scan-all",
        "security-hub",
        "preheat-policy",
        "preheat-instance",
        "jobservice-monitor",
        "purge-audit",
    }
)


def served(policies: list[Policy]) -> list[Policy]:
    return [
        (resource, action) for resource, action in policies if resource not in UNSERVED_RESOURCES
    ]
