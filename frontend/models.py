"""What the UI remembers per user, on the server (so on every browser)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class UiPreferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ui_preferences"
    )
    # {"projects": ["created", ...]}: the columns hidden in each large list (frontend.columns).
    hidden_columns = models.JSONField(default=dict)
