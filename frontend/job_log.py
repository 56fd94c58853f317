"""The GC's log in the page's language. The job writes English lines, which
GET /system/gc/{id}/log serves as Harbor does; the UI rewords each line it knows (after
its time stamp) and shows the others as they are."""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from frontend.sizes import size

LINE = re.compile(r"(?P<time>\S+) (?P<message>.*)")

# The "key: value" pairs of `gc.collector._readable` (parameters and summary).
KEYS: dict[str, Promise] = {
    "delete untagged": _("delete untagged artifacts"),
    "dry run": _("dry run"),
    "workers": _("workers"),
    "freed bytes": _("freed bytes"),
    "blobs deleted": _("blobs deleted"),
    "manifests deleted": _("manifests deleted"),
    "artifacts deleted": _("artifacts deleted"),
    "uploads deleted": _("uploads deleted"),
    "failed": _("failed"),
    "freed space": _("freed space"),
    "purged blobs": _("purged blobs"),
    "purged manifests": _("purged manifests"),
}
VALUES: dict[str, Promise] = {"true": _("yes"), "false": _("no")}

# (the message after the time stamp, its words); `bytes` parameters are shown as sizes.
MESSAGES: list[tuple[re.Pattern[str], Promise]] = [
    (re.compile(pattern), words)
    for pattern, words in [
        (
            r"GC started: window (?P<hours>[\d.]+) h, (?P<pairs>.*)",
            _("GC started (deletion window %(hours)s h): %(pairs)s"),
        ),
        (
            r"(?P<count>\d+) blobs left mid-deletion by an earlier run are finished now",
            _("%(count)s blobs left mid-deletion by an earlier run are deleted now"),
        ),
        (
            r"failed to delete (?P<digest>\S+): (?P<why>.*)",
            _("Could not delete %(digest)s: %(why)s"),
        ),
        (r"(?P<count>\d+) blobs found only in storage", _("%(count)s blobs found only in storage")),
        (
            r"dry run: (?P<blobs>\d+) blobs and (?P<manifests>\d+) manifests eligible for "
            r"deletion, (?P<bytes>\d+) bytes would be freed",
            _(
                "Dry run: %(blobs)s blobs and %(manifests)s manifests could be deleted, "
                "which would free %(bytes)s"
            ),
        ),
        (r"(?P<count>\d+) blobs marked for deletion", _("%(count)s blobs marked for deletion")),
        (
            r"(?P<blobs>\d+) blobs and (?P<manifests>\d+) manifests are actually deleted, "
            r"(?P<bytes>\d+) bytes freed.*",
            _("%(blobs)s blobs and %(manifests)s manifests deleted, %(bytes)s freed"),
        ),
        (r"GC finished: (?P<pairs>.*)", _("GC finished: %(pairs)s")),
        (
            r"dry run: (?P<count>\d+) untagged artifacts would be deleted",
            _("Dry run: %(count)s untagged artifacts would be deleted"),
        ),
        (
            r"kept (?P<artifact>\S+): pushed again",
            _("Kept %(artifact)s: it was pushed again"),
        ),
        (r"kept (?P<artifact>\S+): (?P<why>.*)", _("Kept %(artifact)s: %(why)s")),
        (r"deleted untagged (?P<artifact>\S+)", _("Deleted the untagged artifact %(artifact)s")),
    ]
]


def _pairs(text: str) -> str:
    pairs = []
    for pair in text.split(", "):
        key, _sep, value = pair.partition(": ")
        if key in ("freed bytes", "freed space") and value.isdigit():
            value = size(value)
        words = [str(KEYS.get(key, key)), str(VALUES.get(value, value))]
        pairs.append(gettext("%(key)s: %(value)s") % {"key": words[0], "value": words[1]})
    return gettext(", ").join(pairs)


def _message(message: str) -> str:
    for pattern, words in MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            params = found.groupdict()
            if "pairs" in params:
                params["pairs"] = _pairs(params["pairs"])
            if "bytes" in params:
                params["bytes"] = size(params["bytes"])
            return str(words) % params
    return message


def translated(log: str) -> str:
    """The log with each known line in the page's language."""
    lines = []
    for line in log.splitlines():
        found = LINE.fullmatch(line)
        lines.append(f"{found['time']} {_message(found['message'])}" if found else line)
    return "\n".join(lines) + ("\n" if log.endswith("\n") else "")
