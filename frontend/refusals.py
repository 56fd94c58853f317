"""The services' refusals in the UI's own, translated words, and the form field each
belongs to. The services word their refusals for the API (English, lower-case, some
naming API fields such as trigger_settings.cron); until they carry error codes (#21),
the UI recognises the messages people meet in its forms. Others are shown as the API
words them, with a capital letter and a full stop."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from harbor_py.core.errors import Code

# The UI's title for each domain error code (the error page's heading).
TITLES: dict[Code, Promise] = {
    Code.BAD_REQUEST: _("Invalid input"),
    Code.UNAUTHORIZED: _("Sign-in required"),
    Code.FORBIDDEN: _("Not allowed"),
    Code.DENIED: _("Over the limit"),
    Code.NOT_FOUND: _("Not found"),
    Code.CONFLICT: _("Conflict"),
    Code.PRECONDITION: _("Not possible now"),
    Code.VIOLATE_FOREIGN_KEY_CONSTRAINT: _("Still in use"),
    Code.MANIFEST_INVALID: _("Invalid manifest"),
    Code.MANIFEST_BLOB_UNKNOWN: _("Unknown blob"),
    Code.PAYLOAD_TOO_LARGE: _("Too large"),
    Code.SERVICE_UNAVAILABLE: _("Service unavailable"),
    Code.UNKNOWN: _("Error"),
}


@dataclass(frozen=True)
class Refusal:
    text: str
    field: str | None


# (pattern matching the whole message, the form field it concerns, the UI's words).
KNOWN: list[tuple[re.Pattern[str], str | None, Promise]] = [
    (
        re.compile(r"project name must be .*"),
        "project_name",
        _(
            "A project name is 1-255 lower-case letters, digits and single . _ - "
            "separators, starting and ending with a letter or digit."
        ),
    ),
    (
        re.compile(r"the project named (?P<name>.+) already exists"),
        "project_name",
        _("A project named %(name)s already exists."),
    ),
    (
        re.compile(r"tag (?P<tag>.+) already exists in (?P<repository>.+)"),
        "name",
        _("The tag %(tag)s already exists in %(repository)s."),
    ),
    (re.compile(r"invalid tag name (?P<tag>.+)"), "name", _("%(tag)s is not a valid tag name.")),
    (
        re.compile(r"robot account (?P<name>.+) already exists"),
        "name",
        _("A robot account %(name)s already exists."),
    ),
    (
        re.compile(r"robot name must be .*"),
        "name",
        _("A robot name is lower-case letters, digits and . _ - separators."),
    ),
    (
        re.compile(r"label (?P<name>.+) already exists"),
        "name",
        _("A label %(name)s already exists."),
    ),
    (
        re.compile(r"username (?P<name>.+) already exists"),
        "username",
        _("The username %(name)s is taken."),
    ),
    (
        re.compile(r"email (?P<email>.+) already exists"),
        "email",
        _("The email address %(email)s is already used."),
    ),
    (
        re.compile(r"(?P<user>.+) is already a member of (?P<project>.+)"),
        "member",
        _("%(user)s is already a member of %(project)s."),
    ),
    (
        re.compile(r"a scheduled trigger needs trigger_settings\.cron"),
        "cron",
        _("A scheduled trigger needs a cron expression."),
    ),
    (
        re.compile(r"a Custom schedule needs a cron expression"),
        "cron",
        _("A custom schedule needs a cron expression."),
    ),
    (
        re.compile(r"invalid cron .*"),
        "cron",
        _("Not a valid cron expression: six fields (second minute hour day month weekday)."),
    ),
    (
        re.compile(r"an immutability rule with the same selectors already exists"),
        None,
        _("A rule with the same selectors already exists."),
    ),
    (
        re.compile(r"the project contains repositories, can not be deleted"),
        None,
        _("The project still has repositories: delete them first."),
    ),
    (
        re.compile(r"the registry (?P<name>.+) is referenced by policies"),
        None,
        _("Replication rules use the registry %(name)s: delete or change them first."),
    ),
    (
        re.compile(r"the policy (?P<name>.+) has running executions"),
        None,
        _("The rule %(name)s is replicating now: stop it first."),
    ),
    (
        re.compile(r"a (?P<job>.+) job is already running"),
        None,
        _("A job of this kind is already running."),
    ),
    (
        re.compile(r"a robot needs at least one permission"),
        "permissions",
        _("Choose at least one permission."),
    ),
    (
        re.compile(r"the secret needs 8-128 characters .*"),
        None,
        _("A secret needs 8-128 characters: an upper-case letter, a lower-case one, a digit."),
    ),
    (
        re.compile(r"Current password is incorrect"),
        "old_password",
        _("The current password is not right."),
    ),
    (
        re.compile(r"New password is identical to old password"),
        "new_password",
        _("The new password must differ from the current one."),
    ),
    (re.compile(r"label name is empty"), "name", _("A label needs a name.")),
    (
        re.compile(r"tag_selectors\S*: (?P<why>.+)"),
        "tag_pattern",
        _("Not a valid tag pattern (%(why)s)."),
    ),
    (
        re.compile(r"scope_selectors\S*: (?P<why>.+)"),
        "repository_pattern",
        _("Not a valid repository pattern (%(why)s)."),
    ),
    (
        re.compile(r"ldap_group_dn is required.*"),
        "ldap_group_dn",
        _("An LDAP group needs its DN (at most 512 characters)."),
    ),
]


def worded(message: str) -> Refusal:
    """The UI's words for a service's message, and the field it belongs to (or None)."""
    for pattern, field, text in KNOWN:
        found = pattern.fullmatch(message)
        if found:
            return Refusal(str(text) % found.groupdict() if found.groupdict() else str(text), field)
    sentence = message[:1].upper() + message[1:]
    if sentence and sentence[-1] not in ".!?":
        sentence += "."
    return Refusal(sentence, None)
