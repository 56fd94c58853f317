"""Writes about users. Each runs in one transaction with its audit record."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import OIDCUserInfo, User
from accounts.passwords import password_problem
from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict, forbidden
from projects.models import ProjectMember

ADMIN_USERNAME = "admin"
_BAD_USERNAME = re.compile(r'[,"~#%$:/\\\s]')
_BAD_REALNAME = re.compile(r"[,~#$%]")


def validate_username(username: str) -> None:
    if not username or len(username) > 255 or _BAD_USERNAME.search(username):
        raise bad_request(
            'username is required, at most 255 characters, without ,"~#%$:/\\ or spaces',
            key="user.name_invalid",
        )
    if username.startswith("robot$"):
        raise bad_request("usernames starting with robot$ are reserved", key="user.name_reserved")


def validate_password(password: str) -> None:
    if problem := password_problem(password):
        raise bad_request(problem, key="user.password_weak")


def check_username_free(username: str) -> None:
    if User.objects.filter(username=username).exists():
        raise conflict(
            f"username {username} already exists",
            key="user.name_taken",
            params={"name": username},
        )


def _validate_new_user(username: str, email: str, password: str) -> None:
    validate_username(username)
    try:
        validate_email(email)
    except ValidationError:
        raise bad_request("a valid email is required") from None
    validate_password(password)


@transaction.atomic
def create_user(
    *,
    username: str,
    email: str,
    password: str,
    realname: str = "",
    comment: str = "",
    sysadmin: bool = False,
    actor: Actor,
) -> User:
    _validate_new_user(username, email, password)
    check_username_free(username)
    check_email_free(email)
    user = User(
        username=username,
        email=email,
        realname=realname[:255],
        comment=comment[:1024],
        is_superuser=sysadmin,
    )
    user.set_password(password)
    user.save()
    record(actor=actor, operation="create", resource_type="user", resource=username)
    return user


@transaction.atomic
def ensure_admin(*, password: str) -> bool:
    """Create the `admin` sysadmin on first start. Returns True when created."""
    if User.objects.filter(username="admin").exists():
        return False
    admin = User(
        username="admin", email="admin@example.com", realname="system admin", is_superuser=True
    )
    admin.set_password(password)
    admin.save()
    record(actor=Actor.system("system"), operation="create", resource_type="user", resource="admin")
    return True


def is_builtin_admin(user: User) -> bool:
    """Harbor's user 1, the `admin` created at installation (`ensure_admin`)."""
    return user.username == ADMIN_USERNAME


def check_email_free(email: str, *, but: User | None = None) -> None:
    taken = User.objects.filter(email__iexact=email)
    if but is not None:
        taken = taken.exclude(pk=but.pk)
    if taken.exists():
        raise conflict(
            f"email {email} already exists", key="user.email_taken", params={"email": email}
        )


@transaction.atomic
def update_profile(*, user: User, email: str, realname: str, comment: str, actor: Actor) -> User:
    """PUT /users/{id}: Harbor's profile rules (email required, realname 1-255 characters
    without , ~ # $ %); comments as long as on creation."""
    try:
        validate_email(email)
    except ValidationError:
        raise bad_request("email with illegal format") from None
    if not 1 <= len(realname) <= 255:
        raise bad_request("realname with illegal length")
    if _BAD_REALNAME.search(realname):
        raise bad_request("realname contains illegal characters")
    if len(comment) > 1024:
        raise bad_request("comment with illegal length")
    check_email_free(email, but=user)
    user.email, user.realname, user.comment = email, realname, comment
    user.save(update_fields=["email", "realname", "comment", "update_time"])
    record(actor=actor, operation="update", resource_type="user", resource=user.username)
    return user


@transaction.atomic
def set_sysadmin(*, user: User, sysadmin: bool, actor: Actor) -> User:
    if is_builtin_admin(user):
        raise forbidden("the sysadmin flag of the admin user cannot be changed")
    user.is_superuser = sysadmin
    user.save(update_fields=["is_superuser", "update_time"])
    record(
        actor=actor,
        operation="update",
        resource_type="user",
        resource=user.username,
        description=f"sysadmin_flag {str(sysadmin).lower()}",
    )
    return user


@transaction.atomic
def change_password(*, user: User, new_password: str, actor: Actor) -> User:
    """A new stored hash also invalidates every cached credential of the user
    (accounts.credentials keys its cache with the hash)."""
    if problem := password_problem(new_password):
        raise bad_request(problem, key="user.password_weak", params={"field": "new_password"})
    if user.check_password(new_password):
        raise bad_request(
            "New password is identical to old password", key="user.password_unchanged"
        )
    user.set_password(new_password)
    user.save(update_fields=["password", "update_time"])
    record(
        actor=actor,
        operation="update",
        resource_type="user",
        resource=user.username,
        description="password",
    )
    return user


def record_user(user: User, actor: Actor, operation: str, description: str) -> None:
    """The audit record of a change to a user (onboarding, synced attributes, secrets)."""
    record(
        actor=actor,
        operation=operation,
        resource_type="user",
        resource=user.username,
        description=description,
    )


def _tombstone(value: str, suffix: str, limit: int = 255) -> str:
    return value[: limit - len(suffix)] + suffix


@transaction.atomic
def delete_user(*, user: User, actor: Actor) -> None:
    """Harbor marks a user deleted and renames it `<name>#<id>` (freeing the name and the
    email) after removing its project memberships. Nobody deletes themselves or admin."""
    if user.pk == actor.user_id or is_builtin_admin(user):
        raise forbidden(f"User with ID {user.pk} cannot be deleted")
    name = user.username
    ProjectMember.objects.filter(user=user).delete()
    OIDCUserInfo.objects.filter(user=user).delete()  # the identity may onboard again
    suffix = f"#{user.pk}"
    user.username = _tombstone(user.username, suffix)
    user.email = _tombstone(user.email, suffix)
    user.is_active = False
    user.save(update_fields=["username", "email", "is_active", "update_time"])
    record(actor=actor, operation="delete", resource_type="user", resource=name)
