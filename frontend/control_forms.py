"""Forms of robot accounts, storage quotas and tag immutability rules. Field checks only:
the services decide (a robot never gets more than its creator holds, selectors are
valid patterns), and their refusals are shown on the form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Robot
from accounts.robot_services import RobotSpec, full_name
from accounts.robots import ALL_PROJECTS, SYSTEM_NAMESPACE
from frontend.checked_forms import Check, ServiceChecked
from frontend.labels import label
from frontend.refusals import Coded
from frontend.robot_permissions import PermissionMatrix, preset_field, unserved, with_preset
from immutable.matching import BadPattern, compile_pattern

Policy = tuple[str, str]
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
UNLIMITED = "unlimited"
UNIT_CHOICES = [(unit, unit) for unit in UNITS] + [(UNLIMITED, _("unlimited"))]
DEFAULT_UNIT = "GiB"


class SizeWidget(forms.MultiWidget):
    """A number and a unit, side by side; -1 means unlimited."""

    template_name = "frontend/widgets/size.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        widgets = (
            forms.NumberInput(attrs={"min": -1, "step": 1}),
            forms.Select(choices=UNIT_CHOICES, attrs={"aria-label": _("Unit")}),
        )
        super().__init__(widgets, attrs)

    def decompress(self, value: int | None) -> list[Any]:
        if value is None or value == "":
            return [None, DEFAULT_UNIT]
        if value < 0:
            return [None, UNLIMITED]
        for unit, factor in reversed(UNITS.items()):
            if value and value % factor == 0:
                return [value // factor, unit]
        return [value, "B"]


class SizeField(forms.MultiValueField):
    """Bytes from a number and a unit (-1: unlimited); None when left empty."""

    widget = SizeWidget

    def __init__(self, **kwargs: Any) -> None:
        fields = (
            forms.IntegerField(min_value=-1, required=False),
            forms.ChoiceField(choices=UNIT_CHOICES, required=False),
        )
        kwargs.setdefault("help_text", _("The unit “unlimited” (or -1): no limit."))
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[Any]) -> int | None:
        if data_list and data_list[1] == UNLIMITED:
            return -1
        if not data_list or data_list[0] in (None, ""):
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return None
        number, unit = data_list
        return -1 if number == -1 else number * UNITS.get(unit, UNITS[DEFAULT_UNIT])


class QuotaForm(forms.Form):
    hard = SizeField(label=_("Storage limit"))


def policy_choices(policies: list[Policy]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Checkbox groups, one per resource: ("repository", [("repository:pull", "pull"), ...])."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for resource, action in policies:
        groups.setdefault(label(resource), []).append((f"{resource}:{action}", label(action)))
    return list(groups.items())


def as_access(values: list[str]) -> list[dict[str, str]]:
    return [dict(zip(("resource", "action"), value.split(":", 1), strict=True)) for value in values]


def robot_initial(robot: Robot) -> dict[str, Any]:
    """A robot as the robot forms show it. The forms give every project one set of
    permissions; a robot made through the API with different sets shows the first."""
    values: dict[str, list[str]] = {"system": [], "project": []}
    namespaces = []
    for permission in robot.permissions:
        granted = [f"{entry['resource']}:{entry['action']}" for entry in permission["access"]]
        if permission["kind"] == "project":
            namespaces.append(permission["namespace"])
        if not values[permission["kind"]]:
            values[permission["kind"]] = granted
    return {
        "name": robot.name,
        "description": robot.description,
        "never_expires": robot.duration == -1,
        "duration": None if robot.duration == -1 else robot.duration,
        "permissions": values["project"],
        "system_permissions": values["system"],
        "all_projects": ALL_PROJECTS in namespaces,
        "projects": ", ".join(n for n in namespaces if n != ALL_PROJECTS),
    }


def _robot_name(name: str) -> None:
    full_name(name, None)


class RobotForm(ServiceChecked):
    """A project robot: its permissions are offered from what the caller may grant."""

    field_checks: ClassVar[dict[str, Callable[[Any], None]]] = {"name": _robot_name}

    name = forms.CharField(
        label=_("Robot name"),
        max_length=128,
        help_text=_("Lower-case letters, digits and . _ - separators."),
    )
    description = forms.CharField(label=_("Description"), required=False)
    never_expires = forms.BooleanField(label=_("Never expires"), required=False)
    duration = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        required=False,
        help_text=_("Empty: the system's default robot expiration."),
    )
    preset = preset_field()
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"), widget=PermissionMatrix, choices=[], required=False
    )
    needs_permissions = True

    def __init__(
        self, *args: Any, grantable: list[Policy], editing: Robot | None = None, **kwargs: Any
    ) -> None:
        if editing is not None:
            kwargs["initial"] = robot_initial(editing)
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = policy_choices(grantable)  # type: ignore[attr-defined]  # a MultipleChoiceField
        self.offered = [f"{resource}:{action}" for resource, action in grantable]
        initial = robot_initial(editing) if editing is not None else {}
        self.kept = {
            "project": unserved(initial.get("permissions", [])),
            "system": unserved(initial.get("system_permissions", [])),
        }
        if editing is not None:  # the name cannot change (PUT /robots/{id})
            self.fields["name"].disabled = True
            self.fields["name"].help_text = ""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "permissions" in data:
            data["permissions"] = with_preset(
                data.get("preset") or "", data["permissions"], self.offered
            )
            if self.needs_permissions and not data["permissions"]:
                self.add_error("permissions", _("Choose at least one permission or a preset."))
        return data

    def expiry(self) -> int | None:
        data = self.cleaned_data
        return -1 if data["never_expires"] else data["duration"]

    def spec(self, project_name: str) -> RobotSpec:
        data = self.cleaned_data
        permission = {
            "kind": "project",
            "namespace": project_name,
            "access": as_access(data["permissions"] + self.kept["project"]),
        }
        return RobotSpec(
            name=data["name"],
            level="project",
            description=data["description"],
            duration=self.expiry(),
            permissions=(permission,),
        )


class SystemRobotForm(RobotForm):
    """A system robot: system permissions, and project permissions for some named
    projects or for all of them."""

    system_permissions = forms.MultipleChoiceField(
        label=_("System permissions"), widget=PermissionMatrix, required=False
    )
    all_projects = forms.BooleanField(label=_("All projects"), required=False)
    projects = forms.CharField(
        label=_("Projects"),
        required=False,
        help_text=_("Project names separated by commas (ignored with All projects)."),
    )

    field_order = ["name", "description", "never_expires", "duration", "system_permissions"]

    def __init__(
        self, *args: Any, system: list[Policy], project: list[Policy], **kwargs: Any
    ) -> None:
        super().__init__(*args, grantable=project, **kwargs)
        self.fields["system_permissions"].choices = policy_choices(system)  # type: ignore[attr-defined]  # a MultipleChoiceField
        self.needs_permissions = False
        self.fields["permissions"].label = _("Project permissions")

    def namespaces(self) -> list[str]:
        data = self.cleaned_data
        if data["all_projects"]:
            return [ALL_PROJECTS]
        return [name for name in (n.strip() for n in data["projects"].split(",")) if name]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("permissions") and not (data.get("all_projects") or data.get("projects")):
            self.add_error("projects", _("Name the projects, or choose All projects."))
        return data

    def system_spec(self) -> RobotSpec:
        data = self.cleaned_data
        permissions = []
        if data["system_permissions"]:
            permissions.append(
                {
                    "kind": "system",
                    "namespace": SYSTEM_NAMESPACE,
                    "access": as_access(data["system_permissions"] + self.kept["system"]),
                }
            )
        if data["permissions"]:
            access = as_access(data["permissions"] + self.kept["project"])
            permissions += [
                {"kind": "project", "namespace": namespace, "access": access}
                for namespace in self.namespaces()
            ]
        return RobotSpec(
            name=data["name"],
            level="system",
            description=data["description"],
            duration=self.expiry(),
            permissions=tuple(permissions),
        )


REPOSITORY_DECORATIONS = [("repoMatches", _("matching")), ("repoExcludes", _("excluding"))]
TAG_DECORATIONS = [("matches", _("matching")), ("excludes", _("excluding"))]


def pattern_check(code: str) -> Check:
    """A doublestar pattern's check (immutability and retention selectors)."""

    def check(pattern: str) -> None:
        try:
            compile_pattern(pattern)
        except BadPattern as exc:
            raise Coded(code, why=str(exc)) from None

    return check


class ImmutableRuleForm(ServiceChecked):
    """Harbor's rule form: one repository selector and one tag selector."""

    field_checks: ClassVar[dict[str, Check]] = {
        "repository_pattern": pattern_check("immutable.repository_pattern"),
        "tag_pattern": pattern_check("immutable.tag_pattern"),
    }

    repository_decoration = forms.ChoiceField(
        label=_("Repositories"), choices=REPOSITORY_DECORATIONS
    )
    repository_pattern = forms.CharField(
        label=_("Repository pattern"),
        max_length=255,
        initial="**",
        help_text=_("Below the project, e.g. team/** or {app,web}; ** matches every repository."),
    )
    tag_decoration = forms.ChoiceField(label=_("Tags"), choices=TAG_DECORATIONS)
    tag_pattern = forms.CharField(
        label=_("Tag pattern"), max_length=255, help_text=_("e.g. v* or release-**")
    )
    priority = forms.IntegerField(label=_("Priority"), initial=0)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    @classmethod
    def initial_of(cls, rule: Any) -> dict[str, Any]:
        tag = rule.tag_selectors[0]
        repository = (rule.scope_selectors.get("repository") or [{}])[0]
        return {
            "repository_decoration": repository.get("decoration"),
            "repository_pattern": repository.get("pattern"),
            "tag_decoration": tag["decoration"],
            "tag_pattern": tag["pattern"],
            "priority": rule.priority,
            "enabled": not rule.disabled,
        }

    def rule_data(self) -> dict[str, Any]:
        """Harbor's ImmutableRule body, as the API passes it to the service."""
        data = self.cleaned_data

        def selector(decoration: str, pattern: str) -> dict[str, str]:
            return {"kind": "doublestar", "decoration": decoration, "pattern": pattern}

        return {
            "priority": data["priority"],
            "disabled": not data["enabled"],
            "tag_selectors": [selector(data["tag_decoration"], data["tag_pattern"])],
            "scope_selectors": {
                "repository": [selector(data["repository_decoration"], data["repository_pattern"])]
            },
        }
