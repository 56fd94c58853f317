from __future__ import annotations

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
    """A Harbor user. `is_superuser` is Harbor's sysadmin_flag."""

    realname = models.CharField(max_length=255, blank=True, default="")
    comment = models.CharField(max_length=1024, blank=True, default="")
    update_time = models.DateTimeField(auto_now=True)
    # Filled from the directory at login (LDAP) or by the identity provider (OIDC).
    user_groups = models.ManyToManyField(UserGroup, blank=True, related_name="users")

    class Meta:
        db_table = "harbor_user"

    @property
    def sysadmin_flag(self) -> bool:
        return self.is_superuser
