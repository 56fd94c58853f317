"""Writes driven by the directory: onboarding users and groups, syncing group links.
Each runs in one transaction with its audit record; directory I/O happens before, outside."""

from __future__ import annotations

from collections.abc import Collection

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.group_services import create_group, relink_groups
from accounts.ldap_client import DirectoryUser
from accounts.models import User, UserGroup
from accounts.selectors import normalize_dn
from accounts.services import ADMIN_USERNAME, record_user
from harbor_py.core.actor import Actor

ONBOARD_COMMENT = "from LDAP."  # Harbor's marker for directory users


def reserved_name(username: str) -> bool:
    """The local `admin` always signs in locally; a directory entry of that name must not
    become it."""
    return username.lower() == ADMIN_USERNAME or len(username) > 255


def _valid_email(email: str) -> str:
    try:
        validate_email(email)
    except ValidationError:
        return ""
    return email[:255]


class LocalAccount(Exception):
    """A local account (with a usable password, e.g. a sysadmin created before switching to
    LDAP) has the directory user's name. Harbor would hand it to the directory user, flags
    and all; here a name collision never grants a local account to a directory entry."""


@transaction.atomic
def onboard_user(*, entry: DirectoryUser, actor: Actor) -> tuple[User, bool]:
    """The Harbor user of a directory entry, created (with an unusable local password) on
    first sight, its email and real name kept in step afterwards. Returns (user, created).
    Raises LocalAccount."""
    email, realname = _valid_email(entry.email), entry.realname[:255]
    user = User.objects.select_for_update().filter(username=entry.username).first()
    created = False
    if user is None:
        user = User(username=entry.username, email=email, realname=realname)
        user.comment = ONBOARD_COMMENT
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
            created = True
        except IntegrityError:  # a concurrent first login of the same user won
            user = User.objects.select_for_update().get(username=entry.username)
    if created:
        record_user(user, actor, "create", "onboarded from LDAP")
        return user, True
    if user.has_usable_password():
        raise LocalAccount(f"the name {user.username} belongs to a local Harbor account")
    changed: list[str] = []
    if email and user.email != email:
        user.email, changed = email, [*changed, "email"]
    if realname and user.realname != realname:
        user.realname, changed = realname, [*changed, "realname"]
    if changed:
        user.save(update_fields=[*changed, "update_time"])
        record_user(user, actor, "update", "synced from LDAP: " + ", ".join(changed))
    return user, False


@transaction.atomic
def sync_user_groups(*, user: User, group_dns: Collection[str], actor: Actor) -> None:
    """Link the user to the LDAP user groups among `group_dns` (normalized), and unlink
    the LDAP groups it left. Groups that are no user group yet are not created: Harbor
    maps only groups an admin onboarded (POST /usergroups or as a project member)."""
    wanted = set(
        UserGroup.objects.filter(
            group_type=UserGroup.GroupType.LDAP, ldap_group_dn__in=list(group_dns)
        ).values_list("pk", flat=True)
    )
    relink_groups(user=user, kind=UserGroup.GroupType.LDAP, wanted=wanted, actor=actor)


@transaction.atomic
def onboard_group(*, dn: str, group_name: str, actor: Actor) -> UserGroup:
    """An LDAP user group for a DN the directory confirmed; the existing one if any."""
    existing = UserGroup.objects.filter(
        group_type=UserGroup.GroupType.LDAP, ldap_group_dn=normalize_dn(dn)
    ).first()
    if existing is not None:
        return existing
    return create_group(
        group_name=group_name,
        group_type=UserGroup.GroupType.LDAP,
        ldap_group_dn=dn,
        actor=actor,
    )
