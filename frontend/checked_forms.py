"""Forms that run the services' checks of single fields before the service is called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms

from frontend.refusals import worded
from harbor_py.core.errors import DomainError


class ServiceChecked(forms.Form):
    """Every field's refusal at once, each next to its field: the services stop at the
    first refusal, so the form asks each field's check of them first (`field_checks`).
    The service checks again when called."""

    field_checks: ClassVar[dict[str, Callable[[Any], None]]] = {}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name, check in self.field_checks.items():
            if name not in data or self.fields[name].disabled:
                continue  # empty or invalid already, or not to be changed
            try:
                check(data[name])
            except DomainError as exc:
                self.add_error(name, worded(str(exc.message)).text)
        return data
