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


class EventOutbox(models.Model):
    """A domain event waiting for one durable consumer (harbor_py.core.outbox)."""

    key = models.CharField(max_length=200, unique=True)  # event id + consumer: the dedupe key
    consumer = models.CharField(max_length=200)
    event = models.CharField(max_length=64)
    payload = models.JSONField()
    attempts = models.IntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "event_outbox"
