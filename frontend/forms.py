"""The UI's forms: field checks and error display only; the rules live in the services,
whose refusals are added to the form as errors (`refuse`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import User, UserGroup
from accounts.selectors import normalize_dn
from frontend.checked_forms import Check, ServiceChecked, cron_check
from frontend.control_forms import SizeField
from frontend.refusals import Coded, worded
from harbor_py.core import configuration
from harbor_py.core.errors import Code, DomainError
from immutable.enforcement import TagImmutable
from projects import services as project_services
from projects.models import Project
from projects.roles import Role
from quotas.services import validate_hard
from registry.label_services import is_color
from registry.models import Label
from replication import filters
from replication.models import RegistryEndpoint, ReplicationPolicy

ROLE_LABELS = {
    Role.PROJECT_ADMIN: _("Project admin"),
    Role.MAINTAINER: _("Maintainer"),
    Role.DEVELOPER: _("Developer"),
    Role.GUEST: _("Guest"),
    Role.LIMITED_GUEST: _("Limited guest"),
}
ROLE_CHOICES = [(role.value, label) for role, label in ROLE_LABELS.items()]


def refusal_text(exc: DomainError) -> str:
    """A service's refusal as the page shows it, in the UI's (translated) words."""
    if isinstance(exc, TagImmutable):
        return gettext(
            "%(repository)s:%(tag)s is immutable: a tag immutability rule of the project "
            "protects it from being deleted, moved or overwritten."
        ) % {"repository": exc.repository_name, "tag": exc.tag}
    return worded(exc).text


def refuse(form: forms.Form, exc: DomainError, field: str | None = None) -> None:
    """Show a service's refusal on the form, next to the field it is about
    (`frontend.refusals`), else next to `field` or at the top."""
    refusal = worded(exc)
    found = refusal.field_of(form.fields) if not isinstance(exc, TagImmutable) else None
    fallback = field if field in form.fields else None
    form.add_error(found or fallback, refusal_text(exc))


class SignInForm(forms.Form):
    principal = forms.CharField(
        label=_("Username or email"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def focus(self) -> None:
        """Autofocus the field to type next: the name first, the password after a
        failed sign-in (the name is kept)."""
        field = "password" if self.is_bound and self.data.get("principal") else "principal"
        self.fields[field].widget.attrs["autofocus"] = True


class PasswordChangeForm(ServiceChecked):
    """The new password's rule is checked with the current password's (every refusal at
    once)."""

    field_checks: ClassVar[dict[str, Check]] = {"new_password": account_services.validate_password}

    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput)
    new_password = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput,
        help_text=_("8-128 characters with an upper-case letter, a lower-case letter and a digit."),
    )
    confirm_password = forms.CharField(label=_("Confirm new password"), widget=forms.PasswordInput)

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("new_password") != data.get("confirm_password"):
            self.add_error("confirm_password", _("The two passwords do not match."))
        return data


def _new_project_name(name: str) -> None:
    project_services.validate_project_name(name)
    if Project.objects.filter(name=name).exists():
        raise Coded("project.name_taken", Code.CONFLICT, name=name)


def _storage_limit(limit: int | None) -> None:
    if limit is not None:
        validate_hard(limit)


class ProjectForm(ServiceChecked):
    field_checks: ClassVar[dict[str, Check]] = {
        "project_name": _new_project_name,
        "storage_limit": _storage_limit,
    }

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
    storage_limit = SizeField(
        label=_("Storage limit"),
        required=False,
        help_text=_("The unit “unlimited” (or -1): no limit; empty: the system's default."),
    )

    registry_id = forms.TypedChoiceField(
        label=_("Proxy cache"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_(
            "Pull through to this registry endpoint and keep what is pulled; "
            "nobody can push to a proxy-cache project."
        ),
    )

    def __init__(
        self,
        *args: object,
        with_limit: bool = False,
        endpoints: list[tuple[int, str]] | None = None,
        **kwargs: object,
    ) -> None:
        """`endpoints`: the registry endpoints a proxy cache may use (system admins only)."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # Form's own arguments, passed on
        if not with_limit:
            del self.fields["storage_limit"]
        if endpoints:
            choices = [("", _("No: an ordinary project")), *endpoints]
            self.fields["registry_id"].choices = choices  # type: ignore[attr-defined]  # a ChoiceField
        else:
            del self.fields["registry_id"]


class MemberForm(ServiceChecked):
    """An unknown user or group is shown next to the name together with the other fields'
    errors (projects.member_lookup refuses it only once the rest is valid). Under LDAP a
    name that is no user yet is left to the service, which looks it up in the directory."""

    def checks(self) -> dict[str, Check]:
        kind = self.cleaned_data.get("kind")

        def known(name: str) -> None:
            if kind == "group" and not UserGroup.objects.filter(group_name=name).exists():
                raise Coded("group.not_found", Code.NOT_FOUND)
            ldap = configuration.get("auth_mode") == "ldap_auth"
            users = User.objects.filter(is_active=True, username=name)
            if kind == "user" and not ldap and not users.exists():
                raise Coded("user.not_found", Code.NOT_FOUND)

        return {"name": known}

    KIND_CHOICES = [("user", _("User")), ("group", _("Group"))]
    kind = forms.ChoiceField(label=_("Member type"), choices=KIND_CHOICES, initial="user")
    name = forms.CharField(label=_("User or group name"), max_length=255)
    role = forms.TypedChoiceField(
        label=_("Role"), choices=ROLE_CHOICES, coerce=int, initial=Role.DEVELOPER.value
    )


class RoleForm(forms.Form):
    role = forms.TypedChoiceField(label=_("Role"), choices=ROLE_CHOICES, coerce=int)


def _color(color: str) -> None:
    if color and not is_color(color):
        raise Coded("label.color_invalid")


class LabelForm(ServiceChecked):
    """A label of `project`, or a global one (None)."""

    name = forms.CharField(label=_("Label name"), max_length=128)
    description = forms.CharField(label=_("Description"), required=False)
    color = forms.CharField(
        label=_("Color"), required=False, widget=forms.TextInput(attrs={"type": "color"})
    )

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def checks(self) -> dict[str, Check]:
        scope = Label.Scope.GLOBAL if self.project is None else Label.Scope.PROJECT

        def free(name: str) -> None:
            if Label.objects.filter(name=name, scope=scope, project=self.project).exists():
                raise Coded("label.name_taken", Code.CONFLICT, name=name)

        return {"name": free, "color": _color}


class TagForm(forms.Form):
    name = forms.CharField(label=_("New tag"), max_length=128)


class CopyForm(forms.Form):
    """Copy an artifact into another repository (of this or another project), or retag it
    there: the copy gets its tags, and the new tag when one is given."""

    project = forms.CharField(label=_("Target project"), max_length=255)
    repository = forms.CharField(label=_("Target repository"), max_length=255)
    tag = forms.CharField(
        label=_("New tag"),
        max_length=128,
        required=False,
        help_text=_("Optional: a tag for the copy (retag)."),
    )


class ProjectConfigForm(forms.Form):
    public = forms.BooleanField(label=_("Public"), required=False)
    auto_scan = forms.BooleanField(label=_("Scan images automatically on push"), required=False)
    prevent_vul = forms.BooleanField(
        label=_("Prevent vulnerable images from running"), required=False
    )
    enable_content_trust_cosign = forms.BooleanField(
        label=_("Content trust: pull only images signed with cosign"), required=False
    )
    enable_content_trust = forms.BooleanField(
        label=_("Content trust: pull only images signed with Notation"), required=False
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


def _new_username(username: str) -> None:
    account_services.validate_username(username)
    account_services.check_username_free(username)


class UserForm(ServiceChecked):
    field_checks: ClassVar[dict[str, Callable[[Any], None]]] = {
        "username": _new_username,
        "email": account_services.check_email_free,
        "password": account_services.validate_password,
    }

    username = forms.CharField(label=_("Username"), max_length=255)
    email = forms.EmailField(label=_("Email"), max_length=255)
    realname = forms.CharField(label=_("Full name"), max_length=255, required=False)
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        help_text=_("8-128 characters with an upper-case letter, a lower-case letter and a digit."),
    )
    comment = forms.CharField(label=_("Comment"), max_length=1024, required=False)
    sysadmin = forms.BooleanField(label=_("System administrator"), required=False)


class ResetPasswordForm(forms.Form):
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput)


class GroupForm(ServiceChecked):
    """A missing LDAP DN and a duplicate group are shown together with the other fields'
    errors, each next to its field (accounts.group_services stops at the first)."""

    def checks(self) -> dict[str, Check]:
        kind: int = self.cleaned_data.get("group_type") or 0  # 0: refused already
        ldap = kind == UserGroup.GroupType.LDAP

        def dn(value: str) -> None:
            if not ldap:
                return
            value = normalize_dn(value)
            if not value or len(value) > 512:
                raise Coded("group.dn_required")
            if UserGroup.objects.filter(group_type=kind, ldap_group_dn=value).exists():
                raise Coded("group.duplicate", Code.CONFLICT)

        def name(value: str) -> None:
            same = UserGroup.objects.filter(group_type=kind, group_name=value.strip())
            if kind and not ldap and same.exists():
                raise Coded("group.duplicate", Code.CONFLICT)

        return {"group_name": name, "ldap_group_dn": dn}

    TYPE_CHOICES = [(1, _("LDAP group")), (2, _("HTTP group")), (3, _("OIDC group"))]
    group_name = forms.CharField(label=_("Group name"), max_length=255)
    group_type = forms.TypedChoiceField(
        label=_("Group type"), choices=TYPE_CHOICES, coerce=int, initial=1
    )
    ldap_group_dn = forms.CharField(
        label=_("LDAP group DN"),
        max_length=512,
        required=False,
        help_text=_("Required for LDAP groups, e.g. cn=devs,ou=groups,dc=example,dc=com"),
    )


def _setting(key: str) -> Check:
    def check(value: object) -> None:
        if value not in ("", None):
            configuration.validate({key: value})

    return check


class SystemConfigForm(ServiceChecked):
    auth_mode = forms.ChoiceField(
        label=_("Authentication mode"),
        choices=[("db_auth", _("Database")), ("ldap_auth", _("LDAP")), ("oidc_auth", _("OIDC"))],
        help_text=_("It can only change while no user other than admin exists."),
    )
    project_creation_restriction = forms.ChoiceField(
        label=_("Project creation"),
        choices=[("everyone", _("Everyone")), ("adminonly", _("Administrators only"))],
    )
    token_expiration = forms.IntegerField(label=_("Token expiration (minutes)"), min_value=1)
    robot_token_duration = forms.IntegerField(label=_("Robot token expiration (days)"), min_value=1)
    quota_per_project_enable = forms.BooleanField(
        label=_("Enforce per-project storage quotas"), required=False
    )
    storage_per_project = SizeField(label=_("Default storage limit of new projects"), required=True)
    ldap_url = forms.CharField(label=_("LDAP URL"), required=False)
    ldap_search_dn = forms.CharField(label=_("LDAP search DN"), required=False)
    ldap_search_password = forms.CharField(
        label=_("LDAP search password"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leave empty to keep the saved password."),
    )
    ldap_base_dn = forms.CharField(label=_("LDAP base DN"), required=False)
    ldap_filter = forms.CharField(label=_("LDAP filter"), required=False)
    ldap_uid = forms.CharField(label=_("LDAP UID attribute"), required=False)
    ldap_scope = forms.TypedChoiceField(
        label=_("LDAP scope"),
        choices=[(0, _("Base")), (1, _("One level")), (2, _("Subtree"))],
        coerce=int,
    )
    ldap_verify_cert = forms.BooleanField(label=_("Verify the LDAP certificate"), required=False)
    ldap_group_base_dn = forms.CharField(label=_("LDAP group base DN"), required=False)
    ldap_group_search_filter = forms.CharField(label=_("LDAP group filter"), required=False)
    ldap_group_attribute_name = forms.CharField(
        label=_("LDAP group name attribute"), required=False
    )
    ldap_group_admin_dn = forms.CharField(label=_("LDAP group admin DN"), required=False)
    ldap_group_membership_attribute = forms.CharField(
        label=_("LDAP group membership attribute"), required=False
    )

    oidc_name = forms.CharField(label=_("OIDC provider name"), required=False)
    oidc_endpoint = forms.CharField(label=_("OIDC endpoint"), required=False)
    oidc_client_id = forms.CharField(label=_("OIDC client ID"), required=False)
    oidc_client_secret = forms.CharField(
        label=_("OIDC client secret"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Leave empty to keep the saved secret."),
    )
    oidc_groups_claim = forms.CharField(label=_("Group claim name"), required=False)
    oidc_admin_group = forms.CharField(label=_("OIDC admin group"), required=False)
    oidc_group_filter = forms.CharField(label=_("OIDC group filter"), required=False)
    oidc_scope = forms.CharField(label=_("OIDC scope"), required=False)
    oidc_verify_cert = forms.BooleanField(label=_("Verify the OIDC certificate"), required=False)
    oidc_auto_onboard = forms.BooleanField(label=_("Automatic onboarding"), required=False)
    oidc_user_claim = forms.CharField(label=_("Username claim"), required=False)
    oidc_extra_redirect_parms = forms.CharField(
        label=_("Extra redirect parameters (JSON)"), required=False
    )
    oidc_logout = forms.BooleanField(label=_("Sign out at the provider too"), required=False)

    def checks(self) -> dict[str, Check]:
        return {name: _setting(name) for name in self.fields if name in configuration.ITEMS}

    LDAP_PING_FIELDS = (
        "ldap_url",
        "ldap_search_dn",
        "ldap_search_password",
        "ldap_base_dn",
        "ldap_filter",
        "ldap_uid",
        "ldap_scope",
        "ldap_verify_cert",
    )


class GcRunForm(forms.Form):
    dry_run = forms.BooleanField(
        label=_("Dry run"),
        required=False,
        help_text=_("Count what would be freed, delete nothing."),
    )
    delete_untagged = forms.BooleanField(label=_("Delete untagged artifacts"), required=False)
    workers = forms.IntegerField(label=_("Workers"), min_value=1, max_value=5, initial=1)


class ScheduleForm(ServiceChecked):
    type = forms.ChoiceField(
        label=_("Schedule"),
        choices=[
            ("None", _("None")),
            ("Hourly", _("Hourly")),
            ("Daily", _("Daily")),
            ("Weekly", _("Weekly")),
            ("Custom", _("Custom")),
        ],
    )
    cron = forms.CharField(
        label=_("Cron"),
        required=False,
        help_text=_("Six fields for Custom: second minute hour day month weekday."),
    )

    def checks(self) -> dict[str, Check]:
        return {
            "cron": cron_check(self.cleaned_data.get("type") == "Custom", "schedule.cron_required")
        }


def _name_free(model: type[RegistryEndpoint | ReplicationPolicy], but: int | None) -> Check:
    """Registries and replication rules have unique names (`replication.services`)."""

    def check(name: str) -> None:
        same = model.objects.filter(name=name)
        if (same.exclude(pk=but) if but is not None else same).exists():
            raise Coded("name.taken", Code.CONFLICT, name=name)

    return check


def _filter(kind: str) -> Check:
    def check(value: str) -> None:
        if value:
            try:
                filters.check([{"type": kind, "value": value}])
            except ValueError as exc:
                raise Coded("filter.invalid", why=str(exc)) from None

    return check


class RegistryForm(ServiceChecked):
    name = forms.CharField(label=_("Name"), max_length=255)
    type = forms.ChoiceField(
        label=_("Provider"),
        choices=[
            ("harbor", "Harbor / harbor-py"),
            ("docker-registry", "Docker Registry v2"),
            ("docker-hub", "Docker Hub"),
        ],
    )
    url = forms.URLField(label=_("Endpoint URL"), max_length=512, assume_scheme="https")
    access_key = forms.CharField(label=_("Access ID"), required=False)
    # render_value: "Test connection" answers with the form, which keeps what was typed.
    access_secret = forms.CharField(
        label=_("Access secret"),
        required=False,
        widget=forms.PasswordInput(render_value=True, attrs={"autocomplete": "off"}),
    )
    insecure = forms.BooleanField(label=_("Skip certificate verification"), required=False)
    description = forms.CharField(label=_("Description"), required=False)

    def __init__(self, *args: Any, editing: int | None = None, **kwargs: Any) -> None:
        """`editing`: the id of the registry edited."""
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing is not None:
            self.fields["access_secret"].help_text = _("Empty: keep the stored secret.")

    def checks(self) -> dict[str, Check]:
        return {"name": _name_free(RegistryEndpoint, self.editing)}


class PolicyForm(ServiceChecked):
    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(label=_("Description"), required=False)
    direction = forms.ChoiceField(
        label=_("Replication mode"),
        choices=[("push", _("Push to the remote registry")), ("pull", _("Pull from it"))],
    )
    registry = forms.TypedChoiceField(label=_("Remote registry"), coerce=int, choices=[])
    name_filter = forms.CharField(
        label=_("Source repository filter"),
        required=False,
        help_text=_("A glob such as library/** ; empty: everything."),
    )
    tag_filter = forms.CharField(label=_("Tag filter"), required=False)
    dest_namespace = forms.CharField(label=_("Destination namespace"), required=False)
    trigger_type = forms.ChoiceField(
        label=_("Trigger"),
        choices=[
            ("manual", _("Manual")),
            ("scheduled", _("Scheduled")),
            ("event_based", _("Event based")),
        ],
    )
    cron = forms.CharField(label=_("Cron"), required=False)
    override = forms.BooleanField(
        label=_("Override existing artifacts"), required=False, initial=True
    )
    replicate_deletion = forms.BooleanField(label=_("Replicate deletions"), required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        registries: list[tuple[int, str]],
        editing: int | None = None,
        **kwargs: Any,
    ) -> None:
        """`editing`: the id of the rule edited."""
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["registry"].choices = registries  # type: ignore[attr-defined]  # a ChoiceField

    def checks(self) -> dict[str, Check]:
        return {
            "name": _name_free(ReplicationPolicy, self.editing),
            "name_filter": _filter("name"),
            "tag_filter": _filter("tag"),
            "cron": cron_check(self.cleaned_data.get("trigger_type") == "scheduled"),
        }
