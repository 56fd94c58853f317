"""Reads about users and user groups."""

from __future__ import annotations

import contextlib

import ldap
import ldap.dn
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from accounts.models import User, UserGroup
from accounts.robots import RobotUser
from harbor_py.core import configuration
from harbor_py.core.errors import Code, DomainError, forbidden, not_found
from harbor_py.core.query import Field, apply_query, apply_sort, as_bool, as_int, as_time

USER_QUERY = {
    "username": Field("username"),
    "email": Field("email"),
    "realname": Field("realname"),
    "user_id": Field("pk", cast=as_int, fuzzy=False, ranged=True),
    "sysadmin_flag": Field("is_superuser", cast=as_bool, fuzzy=False),
    "creation_time": Field("date_joined", cast=as_time, fuzzy=False, ranged=True),
    "update_time": Field("update_time", cast=as_time, fuzzy=False, ranged=True),
}
USER_SORT = {
    "username": "username",
    "email": "email",
    "realname": "realname",
    "user_id": "pk",
    "creation_time": "date_joined",
    "update_time": "update_time",
}


def normalize_dn(dn: str) -> str:
    """LDAP group DNs are compared trimmed and lower-cased, as Harbor stores them, and in
    canonical form ("cn=a, ou=b" and "cn=a,ou=b" are one group) when they parse."""
    dn = dn.strip()
    with contextlib.suppress(ldap.DECODING_ERROR, UnicodeError, TypeError):
        dn = ldap.dn.dn2str(ldap.dn.str2dn(dn))
    return dn.lower()


def active_users() -> QuerySet[User]:
    """Users that exist for the API: deleted ones stay in the table, inactive."""
    return User.objects.filter(is_active=True)


def find_user(user_id: int) -> User | None:
    return active_users().filter(pk=user_id).first()


def modifiable_user(caller: User | AnonymousUser | RobotUser, user_id: int) -> User:
    """Harbor's requireModifiable: under database authentication sysadmins change anyone
    and users themselves; under LDAP only the local admin can be changed, by a sysadmin."""
    from accounts.services import is_builtin_admin

    if not caller.is_authenticated:
        raise DomainError(Code.UNAUTHORIZED, "authentication required")
    if not caller.is_superuser and caller.pk != user_id:
        raise forbidden(f"User with ID {user_id} can't be updated")
    user = find_user(user_id)
    if user is None:
        raise not_found(f"user {user_id} not found")
    if configuration.get("auth_mode") != "db_auth" and not (
        caller.is_superuser and is_builtin_admin(user)
    ):
        raise forbidden(f"User with ID {user_id} can't be updated")
    return user


def list_users(
    *,
    q: str | None = None,
    sort: str | None = None,
    username: str | None = None,
    email: str | None = None,
) -> QuerySet[User]:
    users = apply_query(active_users(), q, USER_QUERY)
    if username:
        users = users.filter(username__icontains=username)
    if email:
        users = users.filter(email__icontains=email)
    return apply_sort(users, sort, USER_SORT, default=["pk"])


def search_users(username: str) -> QuerySet[User]:
    return active_users().filter(username__icontains=username).order_by("username", "pk")


def find_group(group_id: int) -> UserGroup | None:
    return UserGroup.objects.filter(pk=group_id).first()


def list_groups(
    *, group_name: str | None = None, ldap_group_dn: str | None = None, ldap_only: bool = False
) -> QuerySet[UserGroup]:
    """GET /usergroups. Under LDAP authentication Harbor lists LDAP groups only."""
    groups = UserGroup.objects.order_by("pk")
    if ldap_only:
        groups = groups.filter(group_type=UserGroup.GroupType.LDAP)
    if group_name:
        groups = groups.filter(group_name__icontains=group_name)
    if ldap_group_dn:
        groups = groups.filter(ldap_group_dn=normalize_dn(ldap_group_dn))
    return groups


def search_groups(group_name: str) -> QuerySet[UserGroup]:
    return UserGroup.objects.filter(group_name__icontains=group_name).order_by("group_name", "pk")
