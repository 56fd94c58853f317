"""A retention run's logs in the page's language: what each run deleted and kept and why,
from the records the run keeps beside its English lines (`retention.runs`,
`retention.evaluation.Plan.records`). The English lines stay what the API serves; a task
logged before records existed is shown as written (`frontend.job_log.translated`)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from frontend.job_log import translated
from frontend.refusals import worded
from frontend.retention_forms import rule_words

EVENTS: dict[str, Promise] = {
    "retention.started": _(
        "%(kind)s of retention policy %(policy)s (project %(project)s, %(rules)s enabled "
        "rules)%(option)s"
    ),
    "retention.pulls": _("Pull times not refreshed: %(why)s"),
    "retention.dry_run_done": _(
        "%(repositories)s repositories, %(total)s artifacts: would delete %(deleted)s "
        "artifacts and %(untagged)s more tags"
    ),
    "retention.done": _(
        "%(repositories)s repositories, %(total)s artifacts: deleted %(deleted)s artifacts "
        "and %(untagged)s more tags, %(kept_meanwhile)s kept because they changed during "
        "the run"
    ),
    "retention.retain": _("Retain %(digest)s (%(tags)s): %(why)s"),
    "retention.delete": _("Delete %(digest)s (%(tags)s): %(why)s"),
    "retention.untag": _("Remove the tag %(tag)s of %(digest)s: retained by no rule"),
    "retention.gone": _("%(digest)s was deleted meanwhile"),
    "retention.deleted": _("Deleted %(digest)s"),
    "retention.kept": _("Kept %(digest)s: %(why)s"),
    "retention.kept_changed": _("Kept %(digest)s: tagged or pushed during the run"),
    "retention.tag_moved": _("Kept the tag %(tag)s: moved or deleted meanwhile"),
    "retention.tag_kept": _("Kept the tag %(tag)s: %(why)s"),
    "retention.untagged": _("Removed the tag %(tag)s"),
}


def _by_rule(why: dict[str, Any]) -> str:
    rule = {"template": why.get("template"), "params": {why.get("template"): why.get("param")}}
    return gettext("retained by rule %(rule)s (%(text)s)") % {
        "rule": why.get("rule"),
        "text": rule_words(rule),
    }


def _reason(params: dict[str, Any]) -> str:
    """Why an artifact is retained or deleted (`Decision.why`), in words."""
    if "rule" in params:
        return _by_rule(params)
    if "immutable" in params:
        return gettext("immutable tag %(tag)s") % {"tag": params["immutable"]}
    if "kept" in params:
        reasons = []
        for kept in params["kept"]:
            tag = kept.get("tag") or gettext("(untagged)")
            if "rule" in kept:
                pair = {"key": tag, "value": _by_rule(kept)}
                reasons.append(gettext("%(key)s: %(value)s") % pair)
            else:
                reasons.append(gettext("%(tag)s: immutable") % {"tag": tag})
        return gettext("; ").join(reasons)
    if params.get("no_tag"):
        return gettext("no rule retains any of its tags")
    return gettext("retained by no rule")


def _words(event: str, params: dict[str, Any]) -> str | None:
    words = EVENTS.get(event)
    if words is None:
        return None
    shown = dict(params)
    if event == "retention.started":
        shown["kind"] = gettext("Dry run") if params.get("dry_run") else gettext("Run")
        only = params.get("untag_only")
        shown["option"] = gettext(", removing only unretained tags") if only else ""
    if event in ("retention.retain", "retention.delete"):
        shown["tags"] = ", ".join(params.get("tags") or []) or gettext("(untagged)")
        shown["why"] = _reason(params)
    if shown.get("why_key"):  # a refusal's reason (its key and parameters): the UI's words
        reason = SimpleNamespace(key=shown["why_key"], params=shown.get("why_params"), detail="")
        shown["why"] = worded(reason).text
    try:
        return str(words) % shown
    except (KeyError, TypeError, ValueError):
        return None  # a record of another version: its English line instead


def retention_log(log: str, records: str) -> str:
    return translated(log, records, _words)
