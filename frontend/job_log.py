"""The GC's log in the page's language, from the task's structured records
(`jobs.context.JobContext.log(..., event=, **params)`, kept in `Task.records`): each record
is worded by its event and parameters. The English lines (`Task.log`) are what
GET /system/gc/{id}/log serves, as Harbor does; the UI reads no English sentence. A task
logged before records existed shows its lines as they are."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from frontend.refusals import worded
from frontend.sizes import size

# The keys of the parameters and summary values (gc.collector's check_parameters and
# Results.as_dict).
KEYS: dict[str, Promise] = {
    "delete_untagged": _("delete untagged artifacts"),
    "dry_run": _("dry run"),
    "workers": _("workers"),
    "freed_bytes": _("freed bytes"),
    "blobs_deleted": _("blobs deleted"),
    "manifests_deleted": _("manifests deleted"),
    "artifacts_deleted": _("artifacts deleted"),
    "uploads_deleted": _("uploads deleted"),
    "failed": _("failed"),
    "freed_space": _("freed space"),
    "purged_blobs": _("purged blobs"),
    "purged_manifests": _("purged manifests"),
}
SIZES = {"freed_bytes", "freed_space"}

# Each event's words; `bytes` parameters are shown as sizes, `values` as "key: value"
# pairs (%(pairs)s).
EVENTS: dict[str, Promise] = {
    "gc.started": _("GC started (deletion window %(hours)s h): %(pairs)s"),
    "gc.leftovers": _("%(count)s blobs left mid-deletion by an earlier run are deleted now"),
    "gc.delete_failed": _("Could not delete %(digest)s: %(why)s"),
    "gc.storage_only": _("%(count)s blobs found only in storage"),
    "gc.dry_run": _(
        "Dry run: %(blobs)s blobs and %(manifests)s manifests could be deleted, "
        "which would free %(bytes)s"
    ),
    "gc.marked": _("%(count)s blobs marked for deletion"),
    "gc.deleted": _("%(blobs)s blobs and %(manifests)s manifests deleted, %(bytes)s freed"),
    "gc.finished": _("GC finished: %(pairs)s"),
    "gc.untagged_dry_run": _("Dry run: %(count)s untagged artifacts would be deleted"),
    "gc.kept_pushed": _("Kept %(artifact)s: it was pushed again"),
    "gc.kept": _("Kept %(artifact)s: %(why)s"),
    "gc.untagged_deleted": _("Deleted the untagged artifact %(artifact)s"),
}


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if key in SIZES and isinstance(value, int):
        return size(value)
    if isinstance(value, list):
        return str(len(value))  # the failed digests: how many
    return str(value)


def _values(values: Mapping[str, Any]) -> str:
    pairs = (
        gettext("%(key)s: %(value)s") % {"key": KEYS.get(key, key), "value": _value(key, value)}
        for key, value in values.items()
    )
    return gettext(", ").join(pairs)


def _words(event: str, params: dict[str, Any]) -> str | None:
    words = EVENTS.get(event)
    if words is None:
        return None
    shown = dict(params)
    if isinstance(shown.get("values"), dict):
        shown["pairs"] = _values(shown.pop("values"))
    if isinstance(shown.get("bytes"), int):
        shown["bytes"] = size(shown["bytes"])
    reason = SimpleNamespace(
        key=shown.pop("why_key", None), params=shown.pop("why_params", None), detail=""
    )
    if reason.key:  # a refusal's reason (its key and parameters): in the UI's words
        shown["why"] = worded(reason).text
    try:
        return str(words) % shown
    except (KeyError, TypeError, ValueError):
        return None  # a record of another version: its English line instead


def translated(
    log: str, records: str, words: Callable[[str, dict[str, Any]], str | None] = _words
) -> str:
    """The log in the page's language: a line for each record, worded by its event
    (`words`: the GC's by default), or the English line where a record is not known."""
    lines = log.splitlines()
    parsed = [json.loads(line) for line in records.splitlines() if line.strip()]
    if not parsed or len(parsed) != len(lines):
        return log  # logged without records (or with lines of no event): as it is
    shown = []
    for line, record in zip(lines, parsed, strict=True):
        worded = words(str(record.get("event")), record.get("params") or {})
        shown.append(f"{record.get('time')} {worded}" if worded is not None else line)
    return "\n".join(shown) + ("\n" if log.endswith("\n") else "")
