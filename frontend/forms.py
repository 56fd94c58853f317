"""The UI's forms: field checks and error display only; the rules live in the services,
whose refusals are added to the form as errors (`refuse`)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from harbor_py.api.errors import HarborError
from projects.roles import Role

ROLE_LABELS = {
    Role.PROJECT_ADMIN: _("Project admin"),
    Role.MAINTAINER: _("Maintainer"),
    Role.DEVELOPER: _("Developer"),
    Role.GUEST: _("Guest"),
    Role.LIMITED_GUEST: _("Limited guest"),
}
ROLE_CHOICES = [(role.value, label) for role, label in ROLE_LABELS.items()]


def refuse(form: forms.Form, exc: HarborError, field: str | None = None) -> None:
    """Show a service's refusal on the form."""
    form.add_error(field, str(exc.detail))


class SignInForm(forms.Form):
    principal = forms.CharField(label=_("Username or email"), max_length=255)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput,
        help_text=_("8-128 characters with an upper-case letter, a lower-case letter and a digit."),
    )
    confirm_password = forms.CharField(label=_("Confirm new password"), widget=forms.PasswordInput)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", _("The two passwords do not match."))
        return data


class ProjectForm(forms.Form):
    project_name = forms.CharField(
        label=_("Project name"),
        max_length=255,
        help_text=_("Lower-case letters, digits and . _ - separators."),
    )
    public = forms.BooleanField(
        label=_("Public"),
        required=False,
        help_text=_("Anyone may pull from a public project, without signing in."),
    )


class MemberForm(forms.Form):
    KIND_CHOICES = [("user", _("User")), ("group", _("Group"))]
    kind = forms.ChoiceField(label=_("Member type"), choices=KIND_CHOICES, initial="user")
    name = forms.CharField(label=_("User or group name"), max_length=255)
    role = forms.TypedChoiceField(
        label=_("Role"), choices=ROLE_CHOICES, coerce=int, initial=Role.DEVELOPER.value
    )


class RoleForm(forms.Form):
    role = forms.TypedChoiceField(label=_("Role"), choices=ROLE_CHOICES, coerce=int)


class LabelForm(forms.Form):
    name = forms.CharField(label=_("Label name"), max_length=128)
    description = forms.CharField(label=_("Description"), required=False)
    color = forms.CharField(
        label=_("Color"), required=False, widget=forms.TextInput(attrs={"type": "color"})
    )


class TagForm(forms.Form):
    name = forms.CharField(label=_("New tag"), max_length=128)


class ProjectConfigForm(forms.Form):
    public = forms.BooleanField(label=_("Public"), required=False)
    auto_scan = forms.BooleanField(label=_("Scan images automatically on push"), required=False)
    prevent_vul = forms.BooleanField(
        label=_("Prevent vulnerable images from running"), required=False
    )
    severity = forms.ChoiceField(
        label=_("Severity threshold"),
        choices=[
            ("none", _("None")),
            ("low", _("Low")),
            ("medium", _("Medium")),
            ("high", _("High")),
            ("critical", _("Critical")),
        ],
        required=False,
    )
