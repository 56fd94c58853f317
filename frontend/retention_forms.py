"""The forms of a project's tag retention tab: one rule (Harbor's rule form: a template
and its number, one repository selector, one tag selector, untagged, labels) and the
policy's schedule and untag-only option."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from frontend.checked_forms import Check, ServiceChecked
from frontend.control_forms import REPOSITORY_DECORATIONS, TAG_DECORATIONS, pattern_check

TEMPLATES = [
    ("latestPushedK", _("retain the most recently pushed # artifacts")),
    ("latestPulledN", _("retain the most recently pulled # artifacts")),
    ("nDaysSinceLastPush", _("retain the artifacts pushed within the last # days")),
    ("nDaysSinceLastPull", _("retain the artifacts pulled within the last # days")),
    ("always", _("retain always")),
]
COUNTED = {"latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull"}


class RetentionRuleForm(ServiceChecked):
    """The patterns are checked before the service is called, so that a refused repository
    pattern and a refused tag pattern (and the other fields' errors) show at once."""

    field_checks: ClassVar[dict[str, Check]] = {
        "repository_pattern": pattern_check("immutable.repository_pattern"),
        "tag_pattern": pattern_check("immutable.tag_pattern"),
    }

    template = forms.ChoiceField(label=_("Rule"), choices=TEMPLATES)
    count = forms.IntegerField(
        label=_("Number (#)"), min_value=0, required=False, help_text=_("Artifacts or days")
    )
    repository_decoration = forms.ChoiceField(
        label=_("Repositories"), choices=REPOSITORY_DECORATIONS
    )
    repository_pattern = forms.CharField(
        label=_("Repository pattern"), max_length=255, initial="**"
    )
    tag_decoration = forms.ChoiceField(label=_("Tags"), choices=TAG_DECORATIONS)
    tag_pattern = forms.CharField(label=_("Tag pattern"), max_length=255, initial="**")
    untagged = forms.BooleanField(label=_("Include untagged artifacts"), required=False)
    labels = forms.CharField(
        label=_("With labels"),
        max_length=255,
        required=False,
        help_text=_("Label names, comma separated; empty: any"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("template") in COUNTED and data.get("count") is None:
            self.add_error("count", _("This rule needs a number."))
        return data

    def rule_data(self) -> dict[str, Any]:
        """Harbor's RetentionRule, as the API passes it to the service."""
        data = self.cleaned_data
        template = data["template"]
        tag = {
            "kind": "doublestar",
            "decoration": data["tag_decoration"],
            "pattern": data["tag_pattern"],
        }
        if data["untagged"]:
            tag["extras"] = json.dumps({"untagged": True})
        tags: list[dict[str, str]] = [tag]
        if data["labels"].strip():
            tags.append({"kind": "label", "decoration": "withLabels", "pattern": data["labels"]})
        return {
            "template": template,
            "action": "retain",
            "params": {template: data["count"]} if template in COUNTED else {},
            "tag_selectors": tags,
            "scope_selectors": {
                "repository": [
                    {
                        "kind": "doublestar",
                        "decoration": data["repository_decoration"],
                        "pattern": data["repository_pattern"],
                    }
                ]
            },
        }


class RetentionSettingsForm(forms.Form):
    cron = forms.CharField(
        label=_("Schedule (cron)"),
        max_length=64,
        required=False,
        help_text=_(
            "Six fields, seconds first, e.g. 0 0 0 * * * for every day at midnight; "
            "empty: no schedule"
        ),
    )
    untag_only = forms.BooleanField(
        label=_("Remove only the tags no rule retains"),
        required=False,
        help_text=_(
            "An artifact that another of its tags keeps stays; without this, rules keep "
            "or remove whole artifacts, as in Harbor."
        ),
    )
