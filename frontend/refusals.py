"""The services' refusals in the UI's own, translated words, and the form field each
belongs to: one catalogue keyed by the refusal's code.

The services word their refusals for the API (English, lower-case, some naming API fields
such as trigger_settings.cron). A refusal that carries a key of the catalogue (`Coded`:
`exc.key`, with its parameters in `exc.params`) is worded from it. The services' domain
errors carry only a generic code (NOT_FOUND, CONFLICT, ...), so `MESSAGES` recognises their
English sentences and names the key. What neither knows is shown as a translated
sentence with the service's words after it. This is the one place to map refusals to
words: a new key is a line in `CATALOGUE` (and its translation)."""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from harbor_py.core.errors import Code, DomainError

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
    fields: tuple[str, ...]  # the form fields it may concern, the likeliest first

    @property
    def field(self) -> str | None:
        return self.fields[0] if self.fields else None

    def field_of(self, form_fields: Container[str]) -> str | None:
        """The first of its fields that the form has."""
        return next((name for name in self.fields if name in form_fields), None)


@dataclass(frozen=True)
class Words:
    """A code's words (placeholders: the refusal's parameters) and the form fields it may
    concern, in order (the first one a form has gets it); a `field` parameter wins."""

    text: Promise
    fields: tuple[str, ...] = ()


CATALOGUE: dict[str, Words] = {
    "project.name_invalid": Words(
        _(
            "A project name is 1-255 lower-case letters, digits and single . _ - "
            "separators, starting and ending with a letter or digit."
        ),
        ("project_name",),
    ),
    "project.name_taken": Words(_("A project named %(name)s already exists."), ("project_name",)),
    "project.not_empty": Words(_("The project still has repositories: delete them first.")),
    "member.exists": Words(_("%(user)s is already a member of %(project)s."), ("name", "member")),
    "tag.exists": Words(_("The tag %(tag)s already exists in %(repository)s."), ("name", "tag")),
    "tag.name_invalid": Words(_("%(tag)s is not a valid tag name."), ("name", "tag")),
    "robot.name_taken": Words(_("A robot account %(name)s already exists."), ("name",)),
    "robot.name_invalid": Words(
        _("A robot name is lower-case letters, digits and . _ - separators."), ("name",)
    ),
    "robot.no_permission": Words(_("Choose at least one permission."), ("permissions",)),
    "robot.secret_invalid": Words(
        _("A secret needs 8-128 characters: an upper-case letter, a lower-case one, a digit.")
    ),
    "label.name_taken": Words(_("A label %(name)s already exists."), ("name",)),
    "label.name_empty": Words(_("A label needs a name."), ("name",)),
    "label.name_too_long": Words(_("A label name has at most %(max)s characters."), ("name",)),
    "label.color_invalid": Words(
        _("A colour is written #RGB or #RRGGBB, e.g. #2f6fde."), ("color",)
    ),
    "user.name_taken": Words(_("The username %(name)s is taken."), ("username",)),
    "user.email_taken": Words(_("The email address %(email)s is already used."), ("email",)),
    "user.password_wrong": Words(_("The current password is not right."), ("old_password",)),
    "user.password_unchanged": Words(
        _("The new password must differ from the current one."), ("new_password",)
    ),
    "group.dn_required": Words(
        _("An LDAP group needs its DN (at most 512 characters)."), ("ldap_group_dn",)
    ),
    "cron.required": Words(_("A scheduled trigger needs a cron expression."), ("cron",)),
    "schedule.cron_required": Words(_("A custom schedule needs a cron expression."), ("cron",)),
    "cron.invalid": Words(
        _("Not a valid cron expression: six fields (second minute hour day month weekday)."),
        ("cron",),
    ),
    "job.running": Words(_("A job of this kind is already running.")),
    "registry.in_use": Words(
        _("Replication rules use the registry %(name)s: delete or change them first.")
    ),
    "policy.running": Words(_("The rule %(name)s is replicating now: stop it first.")),
    "policy.disabled": Words(_("The rule %(name)s is disabled: enable it first.")),
    "policy.in_progress": Words(_("The rule %(name)s is replicating now: wait for it to end.")),
    "filter.invalid": Words(_("Not a valid filter (%(why)s)."), ("name_filter", "tag_filter")),
    "name.taken": Words(_("The name %(name)s is taken."), ("name",)),
    "immutable.same_rule": Words(_("A rule with the same selectors already exists.")),
    "immutable.too_many": Words(_("A project has at most %(max)s immutability rules.")),
    "immutable.tag_pattern": Words(_("Not a valid tag pattern (%(why)s)."), ("tag_pattern",)),
    "immutable.repository_pattern": Words(
        _("Not a valid repository pattern (%(why)s)."), ("repository_pattern",)
    ),
    "quota.invalid": Words(
        _("A storage limit is a size or unlimited."),
        ("hard", "storage_limit", "storage_per_project"),
    ),
    "config.out_of_range": Words(_("Enter a number from %(low)s to %(high)s.")),
    "config.ldap_url_invalid": Words(_("Not a valid LDAP address (%(why)s)."), ("ldap_url",)),
    "project.not_found": Words(_("There is no project %(name)s (or you may not see it).")),
    "repository.not_found": Words(_("There is no repository %(name)s.")),
    "artifact.not_found": Words(_("There is no artifact %(name)s.")),
    "user.not_found": Words(_("There is no user of this name."), ("name",)),
    "group.not_found": Words(_("There is no group of this name."), ("name",)),
    "not_found": Words(_("It does not exist: it may have been deleted meanwhile.")),
    "role.forbidden": Words(_("Your role in the project %(project)s does not allow this.")),
    "sysadmin.only": Words(_("Only system administrators may do this.")),
    "login.directory_refused": Words(_("The directory does not let %(name)s sign in here.")),
    "login.deactivated": Words(_("The account %(name)s is deactivated.")),
    "login.directory_unavailable": Words(
        _("The LDAP directory cannot be used now: try again later or ask an administrator.")
    ),
    "config.auth_mode_locked": Words(
        _("The authentication mode cannot change once users other than admin exist."),
        ("auth_mode",),
    ),
}

# The services' English sentences (the whole message) and the code each stands for; named
# groups are the parameters. Goes away once the services raise coded errors (#21). The
# order matters where a sentence would match a later, looser pattern.
MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), code)
    for pattern, code in [
        (r"project name must be .*", "project.name_invalid"),
        (r"the project named (?P<name>.+) already exists", "project.name_taken"),
        (r"the project contains repositories, can not be deleted", "project.not_empty"),
        (r"(?:group )?(?P<user>.+) is already a member of (?P<project>.+)", "member.exists"),
        (r"tag (?P<tag>.+) already exists in (?P<repository>.+)", "tag.exists"),
        (r"invalid tag name (?P<tag>.+)", "tag.name_invalid"),
        (r"robot account (?P<name>.+) already exists", "robot.name_taken"),
        (r"robot name must be .*", "robot.name_invalid"),
        (r"a robot needs at least one permission", "robot.no_permission"),
        (r"the secret needs 8-128 characters .*", "robot.secret_invalid"),
        (r"label (?P<name>.+) already exists", "label.name_taken"),
        (r"label name is empty", "label.name_empty"),
        (r"label name is too long \(> (?P<max>\d+)\)", "label.name_too_long"),
        (r"label color .* is not a #RGB or #RRGGBB colour", "label.color_invalid"),
        (r"username (?P<name>.+) already exists", "user.name_taken"),
        (r"email (?P<email>.+) already exists", "user.email_taken"),
        (r"Current password is incorrect", "user.password_wrong"),
        (r"New password is identical to old password", "user.password_unchanged"),
        (r"ldap_group_dn is required.*", "group.dn_required"),
        (r"a scheduled trigger needs trigger_settings\.cron", "cron.required"),
        (r"a Custom schedule needs a cron expression", "schedule.cron_required"),
        (r"invalid cron .*", "cron.invalid"),
        (r"a (?P<job>.+) job is already running", "job.running"),
        (r"the registry (?P<name>.+) is referenced by policies", "registry.in_use"),
        (r"the policy (?P<name>.+) has running executions", "policy.running"),
        (r"the policy (?P<name>.+) is disabled", "policy.disabled"),
        (r"a replication of the policy (?P<name>.+) is in progress", "policy.in_progress"),
        (r"(?P<why>(?:filter|a \w+ filter's|filters) .+)", "filter.invalid"),
        (r"an immutability rule with the same selectors already exists", "immutable.same_rule"),
        (r"a project has at most (?P<max>\d+) immutability rules", "immutable.too_many"),
        (r"tag_selectors\S*: (?P<why>.+)", "immutable.tag_pattern"),
        (r"scope_selectors\S*: (?P<why>.+)", "immutable.repository_pattern"),
        (r"the storage limit must be .*", "quota.invalid"),
        (r"storage_per_project must be .*", "quota.invalid"),
        (
            r"(?P<field>[a-z_]+) must be between (?P<low>\d+) and (?P<high>\d+) \w+",
            "config.out_of_range",
        ),
        (r"ldap_url is invalid: (?P<why>.+)", "config.ldap_url_invalid"),
        (r"the authentication mode cannot be changed .*", "config.auth_mode_locked"),
        (r"project (?P<name>\S+) not found", "project.not_found"),
        (r"repository (?P<name>\S+) not found", "repository.not_found"),
        (r"artifact (?P<name>\S+) not found", "artifact.not_found"),
        (r"user not found", "user.not_found"),
        (r"user group not found", "group.not_found"),
        (r".+ not found|.+ (?:was )?(?:deleted|moved or deleted) meanwhile", "not_found"),
        (r"not allowed to \S+ \S+ of project (?P<project>.+)", "role.forbidden"),
        (r"only system administrators may .+", "sysadmin.only"),
        (r"the account (?P<name>\S+) is .+ in the directory", "login.directory_refused"),
        (r"the directory user (?P<name>\S+) cannot sign in to Harbor", "login.directory_refused"),
        (r"the user (?P<name>\S+) is deactivated in Harbor", "login.deactivated"),
        (
            r"LDAP is misconfigured: .*|the LDAP .+|searching the LDAP .+",
            "login.directory_unavailable",
        ),
        (r"(?P<name>.+) already exists", "name.taken"),  # registries, replication rules
    ]
]


class InWords(DomainError):
    """A refusal of the UI itself, already in the page's words: shown as it is."""


class Coded(DomainError):
    """A refusal of the UI's own checks, by its key in the catalogue and its parameters;
    `code` is the domain error's code (the status the page answers with)."""

    def __init__(self, key: str, code: Code = Code.BAD_REQUEST, **params: object) -> None:
        super().__init__(code, key)
        self.key = key  # the catalogue's code; `code` stays the domain error's
        self.params = params


UNKNOWN = _("This was refused: %(detail)s")


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if not text or text[-1] in ".!?" else text + "."


def coded(code: str | None, params: Mapping[str, object], message: str) -> tuple[str, dict]:
    """The catalogue's code of a refusal and its parameters: the refusal's own code when
    the catalogue has it, else the code its English message stands for ("" if none)."""
    if code in CATALOGUE:
        return code, dict(params)
    for pattern, known in MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            return known, found.groupdict()
    return "", {}


def worded(refusal: object) -> Refusal:
    """The UI's words for a service's refusal (an exception with `detail`, or its message)
    and the form fields it may belong to."""
    message = str(getattr(refusal, "detail", refusal))
    if isinstance(refusal, InWords):
        return Refusal(message, ())
    key = getattr(refusal, "key", None)
    code, params = coded(key, getattr(refusal, "params", {}), message)
    if not code:
        return Refusal(str(UNKNOWN) % {"detail": _sentence(message)}, ())
    words = CATALOGUE[code]
    field = params.pop("field", None)
    text = str(words.text) % params if params else str(words.text)
    return Refusal(text, (str(field), *words.fields) if field else words.fields)
