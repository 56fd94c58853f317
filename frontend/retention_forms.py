"""The forms of a project's tag retention tab: one rule (Harbor's rule form: a template
and its number, one repository selector, one tag selector, untagged, labels), added or
edited in place, and the policy's schedule and untag-only option."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from frontend.checked_forms import Check, ServiceChecked
from frontend.control_forms import REPOSITORY_DECORATIONS, TAG_DECORATIONS, pattern_check
from frontend.forms import ScheduleForm
from jobs.services import PRESET_CRONS

TEMPLATES = [
    ("latestPushedK", _("retain the most recently pushed # artifacts")),
    ("latestPulledN", _("retain the most recently pulled # artifacts")),
    ("nDaysSinceLastPush", _("retain the artifacts pushed within the last # days")),
    ("nDaysSinceLastPull", _("retain the artifacts pulled within the last # days")),
    ("always", _("retain always")),
]
COUNTED = {"latestPushedK", "latestPulledN", "nDaysSinceLastPush", "nDaysSinceLastPull"}
LABEL_DECORATIONS = [
    ("withLabels", _("with these labels")),
    ("withoutLabels", _("without these labels")),
]


def _untagged(selector: dict[str, Any]) -> bool:
    extras = selector.get("extras")
    try:
        parsed = json.loads(extras) if isinstance(extras, str) else extras
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("untagged") is True


def rule_words(rule: dict[str, Any]) -> str:
    """What the rule retains, in the page's language (Harbor's rule text, # its number)."""
    template = rule.get("template", "")
    words = str(dict(TEMPLATES).get(template, template))
    return words.replace("#", str((rule.get("params") or {}).get(template, "")))


def includes_untagged(rule: dict[str, Any]) -> bool:
    return any(_untagged(s) for s in rule.get("tag_selectors") or [] if s.get("kind") != "label")


def shown_selectors(rule: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """The selectors the form shows: the first repository selector, the first doublestar
    tag selector and the first label selector (a rule made through the API may have
    more, which an edit keeps as they are: `unshown_selectors`)."""
    tags = rule.get("tag_selectors") or []
    repositories = (rule.get("scope_selectors") or {}).get("repository") or []
    return {
        "repository": repositories[0] if repositories else None,
        "tag": next((s for s in tags if s.get("kind") != "label"), None),
        "label": next((s for s in tags if s.get("kind") == "label"), None),
    }


def unshown_selectors(rule: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(tag selectors, repository selectors) of `rule` that the form does not show."""
    shown = [s for s in shown_selectors(rule).values() if s is not None]
    tags = [s for s in rule.get("tag_selectors") or [] if not any(s is x for x in shown)]
    repositories = (rule.get("scope_selectors") or {}).get("repository") or []
    return tags, [s for s in repositories if not any(s is x for x in shown)]


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
    label_decoration = forms.ChoiceField(
        label=_("Labels"), choices=LABEL_DECORATIONS, required=False, initial="withLabels"
    )
    labels = forms.CharField(
        label=_("Label names"),
        max_length=255,
        required=False,
        help_text=_("Label names, comma separated; empty: any"),
    )

    @classmethod
    def initial_of(cls, rule: dict[str, Any]) -> dict[str, Any]:
        """The form's values for an existing rule (Harbor's Edit opens the form prefilled)."""
        shown = shown_selectors(rule)
        repository, tag, label = shown["repository"] or {}, shown["tag"], shown["label"]
        template = rule.get("template", "")
        return {
            "template": template,
            "count": (rule.get("params") or {}).get(template),
            "repository_decoration": repository.get("decoration", "repoMatches"),
            "repository_pattern": repository.get("pattern", "**"),
            # no doublestar tag selector (labels only): every artifact, tagged or not
            "tag_decoration": tag["decoration"] if tag else "matches",
            "tag_pattern": tag["pattern"] if tag else "**",
            "untagged": _untagged(tag) if tag else True,
            "label_decoration": label["decoration"] if label else "withLabels",
            "labels": label["pattern"] if label else "",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("template") in COUNTED and data.get("count") is None:
            self.add_error("count", _("This rule needs a number."))
        return data

    def rule_data(self, editing: dict[str, Any] | None = None) -> dict[str, Any]:
        """Harbor's RetentionRule, as the API passes it to the service; an edit of
        `editing` keeps its disabled state, priority and the selectors the form does not
        show."""
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
            decoration = data["label_decoration"] or "withLabels"
            tags.append({"kind": "label", "decoration": decoration, "pattern": data["labels"]})
        repositories: list[dict[str, str]] = [
            {
                "kind": "doublestar",
                "decoration": data["repository_decoration"],
                "pattern": data["repository_pattern"],
            }
        ]
        rule: dict[str, Any] = {
            "template": template,
            "action": "retain",
            "params": {template: data["count"]} if template in COUNTED else {},
            "tag_selectors": tags,
            "scope_selectors": {"repository": repositories},
        }
        if editing is not None:
            more_tags, more_repositories = unshown_selectors(editing)
            tags.extend(more_tags)
            repositories.extend(more_repositories)
            rule.update(
                disabled=editing.get("disabled", False), priority=editing.get("priority", 0)
            )
        return rule


class RetentionSettingsForm(ScheduleForm):
    """Harbor's schedule of a policy (None, Hourly, Daily, Weekly or a Custom cron, as
    the GC's) and the untag-only option. Without a type (an older page), a cron is
    Custom and none is None."""

    untag_only = forms.BooleanField(
        label=_("Remove only the tags no rule retains"),
        required=False,
        help_text=_(
            "An artifact that another of its tags keeps stays; without this, rules keep "
            "or remove whole artifacts, as in Harbor."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].required = False

    @staticmethod
    def initial_of(cron: str, untag_only: bool) -> dict[str, Any]:
        preset = next((name for name, value in PRESET_CRONS.items() if value == cron), None)
        kind = preset or ("Custom" if cron else "None")
        return {"type": kind, "cron": cron if kind == "Custom" else "", "untag_only": untag_only}

    def clean_type(self) -> str:
        return self.cleaned_data.get("type") or ("Custom" if self.data.get("cron") else "None")

    def schedule_cron(self) -> str:
        """The policy's cron: a preset's, the typed one for Custom, none for None."""
        kind = self.cleaned_data["type"]
        if kind == "Custom":
            return str(self.cleaned_data["cron"])
        return PRESET_CRONS.get(kind, "")
