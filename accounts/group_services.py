"""Writes about user groups. Each runs in one transaction with its audit record."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import User, UserGroup
from accounts.selectors import normalize_dn
from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import DomainError, bad_request, conflict

GROUP_TYPES = {t.value for t in UserGroup.GroupType}


def _name_invalid() -> DomainError:
    return bad_request("group_name is required, at most 255 characters", key="group.name_invalid")


@transaction.atomic
def create_group(
    *, group_name: str, group_type: int, ldap_group_dn: str, actor: Actor
) -> UserGroup:
    """LDAP groups (type 1) are identified by their DN, which is required and unique; HTTP
    and OIDC groups by their name within their type (Harbor's duplicate checks). Under
    ldap_auth the API looks the DN up in the directory first (accounts.ldap_tools)."""
    group_name = group_name.strip()
    if not group_name or len(group_name) > 255:
        raise _name_invalid()
    if group_type not in GROUP_TYPES:
        raise bad_request(
            "group_type must be 1 (LDAP), 2 (HTTP) or 3 (OIDC)", key="group.type_invalid"
        )
    if group_type == UserGroup.GroupType.LDAP:
        ldap_group_dn = normalize_dn(ldap_group_dn)
        if not ldap_group_dn or len(ldap_group_dn) > 512:
            raise bad_request(
                "ldap_group_dn is required for LDAP groups (at most 512 characters)",
                key="group.dn_required",
            )
        duplicate = UserGroup.objects.filter(group_type=group_type, ldap_group_dn=ldap_group_dn)
    else:
        ldap_group_dn = ""
        duplicate = UserGroup.objects.filter(group_type=group_type, group_name=group_name)
    if duplicate.exists():
        raise conflict(
            f"duplicate user group, group name: {group_name}, group type: {group_type}, "
            f"ldap group DN: {ldap_group_dn}",
            key="group.duplicate",
            params={"field": "ldap_group_dn" if ldap_group_dn else "group_name"},
        )
    try:
        with transaction.atomic():
            group = UserGroup.objects.create(
                group_name=group_name, group_type=group_type, ldap_group_dn=ldap_group_dn
            )
    except IntegrityError:
        raise conflict(
            f"duplicate user group, ldap group DN: {ldap_group_dn}",
            key="group.duplicate",
            params={"field": "ldap_group_dn" if ldap_group_dn else "group_name"},
        ) from None
    record(actor=actor, operation="create", resource_type="user_group", resource=group_name)
    return group


@transaction.atomic
def rename_group(*, group: UserGroup, group_name: str, actor: Actor) -> UserGroup:
    """Harbor updates the name only."""
    group_name = group_name.strip()
    if not group_name or len(group_name) > 255:
        raise _name_invalid()
    old = group.group_name
    group.group_name = group_name
    group.save(update_fields=["group_name", "update_time"])
    record(
        actor=actor,
        operation="update",
        resource_type="user_group",
        resource=group_name,
        description=f"renamed from {old}" if old != group_name else "",
    )
    return group


@transaction.atomic
def delete_group(*, group: UserGroup, actor: Actor) -> None:
    """Its project memberships and user links go with it (cascades)."""
    record(actor=actor, operation="delete", resource_type="user_group", resource=group.group_name)
    group.delete()


def relink_groups(*, user: User, kind: UserGroup.GroupType, wanted: set[int], actor: Actor) -> None:
    """Link the user to exactly the `wanted` groups among its groups of type `kind` (LDAP
    from the directory, OIDC from the groups claim); one audit record names the changes."""
    current = set(user.user_groups.filter(group_type=kind).values_list("pk", flat=True))
    added, removed = wanted - current, current - wanted
    if not added and not removed:
        return
    if removed:
        user.user_groups.remove(*removed)
    if added:
        user.user_groups.add(*added)
    names = dict(UserGroup.objects.filter(pk__in=added | removed).values_list("pk", "group_name"))
    parts = [f"+{names.get(pk, pk)}" for pk in sorted(added)]
    parts += [f"-{names.get(pk, pk)}" for pk in sorted(removed)]
    record(
        actor=actor,
        operation="update",
        resource_type="user",
        resource=user.username,
        description=f"{kind.name} groups " + " ".join(parts),
    )
