"""Writes about users. Each runs in one transaction with its audit record."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import User
from accounts.passwords import password_problem
from audit.services import record
from harbor_py.api.errors import bad_request, conflict

_BAD_USERNAME = re.compile(r'[,"~#%$:/\\\s]')


def _validate_new_user(username: str, email: str, password: str) -> None:
    if not username or len(username) > 255 or _BAD_USERNAME.search(username):
        raise bad_request(
            'username is required, at most 255 characters, without ,"~#%$:/\\ or spaces'
        )
    if username.startswith("robot$"):
        raise bad_request("usernames starting with robot$ are reserved")
    try:
        validate_email(email)
    except ValidationError:
        raise bad_request("a valid email is required") from None
    if problem := password_problem(password):
        raise bad_request(problem)


@transaction.atomic
def create_user(
    *,
    username: str,
    email: str,
    password: str,
    realname: str = "",
    comment: str = "",
    sysadmin: bool = False,
    actor: str,
) -> User:
    _validate_new_user(username, email, password)
    if User.objects.filter(username=username).exists():
        raise conflict(f"username {username} already exists")
    if User.objects.filter(email__iexact=email).exists():
        raise conflict(f"email {email} already exists")
    user = User(
        username=username,
        email=email,
        realname=realname[:255],
        comment=comment[:1024],
        is_superuser=sysadmin,
    )
    user.set_password(password)
    user.save()
    record(username=actor, operation="create", resource_type="user", resource=username)
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
    record(username="system", operation="create", resource_type="user", resource="admin")
    return True
