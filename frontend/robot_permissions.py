"""The robot forms' permission matrix (resources x actions, with select-all per row and
per column in app.js) and presets. Presets work without script too: the form adds the
preset's permissions to the boxes checked."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from projects.permissions import UNSERVED_RESOURCES

Policy = tuple[str, str]

_PULL = ["repository:read", "repository:list", "repository:pull", "artifact:read"]
_PULL += ["artifact:list", "tag:list"]
PRESETS: dict[str, list[str] | None] = {
    "pull": _PULL,
    "push-pull": [*_PULL, "repository:push", "artifact:create", "tag:create"],
    "all": None,  # every permission offered
}
PRESET_CHOICES = [
    ("", _("Custom: the permissions checked")),
    ("pull", _("Pull only")),
    ("push-pull", _("Push and pull")),
    ("all", _("All permissions")),
]


class PermissionMatrix(forms.CheckboxSelectMultiple):
    """The grouped checkboxes (one group per resource) drawn as a table."""

    template_name = "frontend/widgets/permission_matrix.html"

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        actions: dict[str, str] = {}
        rows = []
        for group, options, _index in context["widget"]["optgroups"]:
            cells = {}
            resource = ""
            for option in options:
                resource, action = str(option["value"]).split(":", 1)
                actions.setdefault(action, option["label"])
                option["action"] = action
                cells[action] = option
            rows.append({"key": resource, "label": group, "cells": cells})
        for row in rows:
            row["cells"] = [row["cells"].get(action) for action in actions]
        context["widget"]["actions"] = [{"key": k, "label": v} for k, v in actions.items()]
        context["widget"]["rows"] = rows
        return context


def preset_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Preset"),
        choices=PRESET_CHOICES,
        required=False,
        widget=forms.Select(
            attrs={"data-preset": json.dumps({k: v for k, v in PRESETS.items() if v})}
        ),
        help_text=_("Adds its permissions to those checked."),
    )


def with_preset(preset: str, checked: list[str], offered: list[str]) -> list[str]:
    """The checked permissions plus the preset's, of those offered, in the offered order."""
    wanted = set(checked)
    if preset in PRESETS:
        wanted |= set(PRESETS[preset] or offered)
    return [value for value in offered if value in wanted]


def unserved(values: list[str]) -> list[str]:
    """Permissions of features this server lacks: an edit keeps them (they are not shown)."""
    return [value for value in values if value.split(":", 1)[0] in UNSERVED_RESOURCES]
