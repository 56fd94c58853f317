from __future__ import annotations

from django.db import models


class ConfigEntry(models.Model):
    """One system setting changed at run time through /api/v2.0/configurations.

    Secret values are stored encrypted (see harbor_py.core.configuration)."""

    key = models.CharField(max_length=128, unique=True)
    value = models.JSONField()
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "properties"
