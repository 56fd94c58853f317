"""Forms that run the services' checks of single fields before the service is called."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django_celery_beat.validators import crontab_validator

from frontend.refusals import Coded, worded
from harbor_py.core.errors import DomainError

Check = Callable[[Any], None]


class ServiceChecked(forms.Form):
    """Every field's refusal at once, each next to its field: the services stop at the
    first refusal, so the form asks each field's check of them first (`checks`).
    The service checks again when called."""

    field_checks: ClassVar[dict[str, Check]] = {}

    def checks(self) -> dict[str, Check]:
        """Each field's check; forms whose checks need more (the project, the row being
        edited, another field) build them here."""
        return self.field_checks

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name, check in self.checks().items():
            if name not in data or self.fields[name].disabled:
                continue  # empty or invalid already, or not to be changed
            try:
                check(data[name])
            except DomainError as exc:
                self.add_error(name, worded(exc).text)
        return data


def check_cron(cron: str) -> None:
    """Harbor's six-field cron (seconds first) or a five-field one, as `jobs.services`
    schedules it (without writing its CrontabSchedule)."""
    fields = cron.split()
    if len(fields) == 6:
        fields = fields[1:]
    if len(fields) != 5:
        raise Coded("cron.invalid")
    try:
        crontab_validator(" ".join(fields))
    except ValidationError:
        raise Coded("cron.invalid") from None


def cron_check(needed: bool, missing: str = "cron.required") -> Check:
    """The cron field's check: required (`missing`: the refusal's code) and valid when the
    trigger is a schedule."""

    def check(cron: str) -> None:
        if not needed:
            return
        if not cron:
            raise Coded(missing)
        check_cron(cron)

    return check
