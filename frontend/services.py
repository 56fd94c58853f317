"""The UI's own writes: its per-user preferences."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from frontend.columns import TABLES
from frontend.models import UiPreferences
from harbor_py.core.errors import bad_request


@transaction.atomic
def set_hidden_columns(*, user: User, table: str, hidden: list[str]) -> list[str]:
    if table not in TABLES:
        raise bad_request(f"no table {table}")
    keys = [key for key, _label in TABLES[table]]
    if unknown := sorted(set(hidden) - set(keys[1:])):
        raise bad_request(f"no column {', '.join(unknown)} that can be hidden in {table}")
    preferences, _created = UiPreferences.objects.select_for_update().get_or_create(user=user)
    preferences.hidden_columns[table] = [key for key in keys if key in hidden]
    preferences.save(update_fields=["hidden_columns"])
    return preferences.hidden_columns[table]
