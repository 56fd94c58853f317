from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models


class UserGroup(models.Model):
    """A group of users (LDAP, HTTP or OIDC) that can be a project member."""

    class GroupType(models.IntegerChoices):
        LDAP = 1
        HTTP = 2
        OIDC = 3

    group_name = models.CharField(max_length=255)
    group_type = models.IntegerField(choices=GroupType.choices, default=GroupType.LDAP)
    ldap_group_dn = models.CharField(max_length=512, blank=True, default="")
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_group"
        constraints = [
            models.UniqueConstraint(
                fields=["group_type", "ldap_group_dn"],
                condition=~models.Q(ldap_group_dn=""),
                name="user_group_unique_dn",
            )
        ]


class User(AbstractUser):
    """A Harbor user. `is_superuser` is Harbor's sysadmin_flag; a deleted user is kept,
    inactive and renamed `<name>#<id>`, as Harbor keeps its rows."""

    # Harbor allows 255 characters for both (Django's defaults are 150 and 254).
    username = models.CharField(max_length=255, unique=True)
    email = models.EmailField(max_length=255, blank=True)
    realname = models.CharField(max_length=255, blank=True, default="")
    comment = models.CharField(max_length=1024, blank=True, default="")
    update_time = models.DateTimeField(auto_now=True)
    # Filled from the directory at login (LDAP) or by the identity provider (OIDC).
    user_groups = models.ManyToManyField(UserGroup, blank=True, related_name="users")

    class Meta:
        db_table = "harbor_user"

    # Harbor's admin_role_in_auth: sysadmin for this login only, granted by the directory
    # (ldap_group_admin_dn). Never saved: `is_superuser` is what the rest of the code reads.
    admin_role_in_auth = False
    _stored_superuser: bool | None = None

    @property
    def sysadmin_flag(self) -> bool:
        """The stored flag, without a role granted for this login."""
        return self.is_superuser if self._stored_superuser is None else self._stored_superuser

    def grant_admin_role(self) -> None:
        if not self.admin_role_in_auth:
            self._stored_superuser = self.is_superuser
        self.admin_role_in_auth = True
        self.is_superuser = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.admin_role_in_auth:
            super().save(*args, **kwargs)
            return
        granted, self.is_superuser = self.is_superuser, bool(self._stored_superuser)
        try:
            super().save(*args, **kwargs)
        finally:
            self.is_superuser = granted


class Robot(models.Model):
    """Harbor's robot account: a credential for machines, with its own permissions.

    `name` is the full name (`robot$<project>+<name>` or `robot$<name>`); `secret` holds
    only a password hash of the secret, which is shown once. `permissions` is Harbor's
    list of RobotPermission objects ({kind, namespace, access: [{resource, action}]}).
    """

    class Level(models.TextChoices):
        SYSTEM = "system"
        PROJECT = "project"

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    secret = models.CharField(max_length=255)
    level = models.CharField(max_length=16, choices=Level.choices)
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="robots"
    )
    duration = models.IntegerField(default=-1)  # days; -1: never expires
    expires_at = models.BigIntegerField(default=-1)  # unix seconds; -1: never
    disabled = models.BooleanField(default=False)
    permissions = models.JSONField(default=list)
    creator_type = models.CharField(max_length=16, default="local")
    creator_ref = models.BigIntegerField(default=0)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "robot"


class OIDCUserInfo(models.Model):
    """Harbor's oidc_user: the provider's identity of a user onboarded through OIDC
    (`subiss`: sub + issuer), the CLI secret for registry clients and the provider's
    tokens (the refresh token decides whether the CLI secret still works). The secret and
    the tokens are encrypted at rest (harbor_py.core.secretbox)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="oidc_info")
    subiss = models.CharField(max_length=512, unique=True)
    secret = models.TextField()
    token = models.TextField(blank=True, default="")
    # The admin group was in the groups claim of the last sign-in or token refresh.
    admin_in_auth = models.BooleanField(default=False)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "oidc_user"
