from __future__ import annotations

import time

from django.conf import settings
from django.db import models

from projects.roles import Role


class Project(models.Model):
    name = models.CharField(max_length=255, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    public = models.BooleanField(default=False)
    # Harbor's other project metadata (string values), beyond `public`.
    metadata = models.JSONField(default=dict, blank=True)
    # Harbor's registry_id: the registry endpoint (replication.RegistryEndpoint) this
    # project is a pull-through cache of (proxy_cache/); NULL for an ordinary project.
    # A plain column, not a foreign key: projects sits below replication.
    registry_id = models.IntegerField(null=True, blank=True, default=None)
    # Versions the content-trust verdicts cached for the project's pulls (signatures.policy):
    # bumped by the signatures app in the transaction that changes the keys the project
    # trusts. On this row because every pull reads the row anyway; it starts at the time of
    # creation so that no earlier project's verdicts can match it.
    trust_generation = models.BigIntegerField(default=time.time_ns)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "project"

    def __str__(self) -> str:
        return self.name

    @property
    def is_proxy(self) -> bool:
        return self.registry_id is not None


class ProjectMember(models.Model):
    """A user or a user group holding one role in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        "accounts.UserGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.IntegerField(choices=[(r.value, r.role_name) for r in Role])
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "project_member"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "user"],
                condition=models.Q(user__isnull=False),
                name="member_unique_user",
            ),
            models.UniqueConstraint(
                fields=["project", "group"],
                condition=models.Q(group__isnull=False),
                name="member_unique_group",
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="member_user_xor_group",
            ),
        ]
