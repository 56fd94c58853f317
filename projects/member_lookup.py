"""Who is to become a project member: a user or user group named by id or name, as the
API's member_user / member_group and the UI's member form give it. Under LDAP a name that
is no user (group) yet is looked up in the directory and onboarded, as Harbor does."""

from __future__ import annotations

from typing import Any

from accounts import ldap_tools
from accounts.models import User, UserGroup
from accounts.selectors import normalize_dn
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found


def _ldap_auth() -> bool:
    return configuration.get("auth_mode") == "ldap_auth"


def find_user(spec: dict[str, Any], *, actor: Actor) -> User:
    """Under LDAP a name that is no user yet is looked up and onboarded (Harbor)."""
    users = User.objects.filter(is_active=True)
    if spec.get("user_id"):
        user = users.filter(pk=spec["user_id"]).first()
    elif spec.get("username"):
        user = users.filter(username=spec["username"]).first()
        if user is None and _ldap_auth():
            user = ldap_tools.onboard_user(username=spec["username"], actor=actor)
    else:
        raise bad_request("member_user needs user_id or username")
    if user is None:
        raise not_found("user not found", key="user.not_found")
    return user


def find_group(spec: dict[str, Any], *, actor: Actor) -> UserGroup:
    """Under LDAP a group DN that is no user group yet is looked up and onboarded (Harbor)."""
    groups = UserGroup.objects.order_by("pk")
    if spec.get("id"):
        group = groups.filter(pk=spec["id"]).first()
    elif spec.get("ldap_group_dn"):
        dn = normalize_dn(spec["ldap_group_dn"])
        group = groups.filter(group_type=UserGroup.GroupType.LDAP, ldap_group_dn=dn).first()
        if group is None and _ldap_auth():
            name = spec.get("group_name", "")
            group = ldap_tools.onboard_group(dn=spec["ldap_group_dn"], group_name=name, actor=actor)
    elif spec.get("group_name"):
        groups = groups.filter(group_name=spec["group_name"])
        if spec.get("group_type"):
            groups = groups.filter(group_type=spec["group_type"])
        group = groups.first()
    else:
        raise bad_request("member_group needs id, ldap_group_dn or group_name")
    if group is None:
        raise not_found("user group not found", key="group.not_found")
    return group
