from __future__ import annotations

from django.db import models

from projects.models import Project


class Quota(models.Model):
    """A project's storage quota: `hard` bytes (-1: unlimited) and `used`, the size of the
    distinct blobs its artifacts reference (a layer shared by two images counts once).

    `used` is kept exact by quotas.usage: a push adds what it newly references while it
    holds this row's lock; a delete subtracts what it no longer references (quotas.usage)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="quota")
    hard = models.BigIntegerField(default=-1)
    used = models.BigIntegerField(default=0)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "quota"
