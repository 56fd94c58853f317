"""The services' refusals in the UI's own, translated words, and the form field each
belongs to: one catalogue keyed by the refusal's key.

The services word their refusals for the API (English, lower-case, some naming API fields
such as trigger_settings.cron). A refusal the UI words itself carries a key of the
catalogue and its parameters (`DomainError(code, message, key=..., params=...)`; the UI's
own checks raise `Coded`). A refusal without a key is worded by its code where the code
says enough (NOT_FOUND: `BY_CODE`), else shown as a translated sentence with the
service's words after it. This is the one place to map refusals to words: a new key is a
line in `CATALOGUE` (and its translation); tests/unit/test_ui_refusals.py fails on a key
a service raises that the catalogue lacks."""

from __future__ import annotations

from collections.abc import Container
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
    "user.password_weak": Words(
        _("A password needs 8-128 characters: an upper-case letter, a lower-case one, a digit."),
        ("password", "new_password"),
    ),
    "user.password_unchanged": Words(
        _("The new password must differ from the current one."), ("new_password",)
    ),
    "group.dn_required": Words(
        _("An LDAP group needs its DN (at most 512 characters)."), ("ldap_group_dn",)
    ),
    "group.duplicate": Words(
        _("This group exists already (the same name, or for LDAP the same DN)."),
        ("group_name", "ldap_group_dn"),
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
    "registry.proxied": Words(
        _("Proxy-cache projects use the registry %(name)s: delete them first.")
    ),
    "policy.running": Words(_("The rule %(name)s is replicating now: stop it first.")),
    "policy.disabled": Words(_("The rule %(name)s is disabled: enable it first.")),
    "policy.in_progress": Words(_("The rule %(name)s is replicating now: wait for it to end.")),
    "filter.invalid": Words(_("Not a valid filter (%(why)s)."), ("name_filter", "tag_filter")),
    "webhook.name_taken": Words(_("A webhook named %(name)s already exists."), ("name",)),
    "webhook.address_refused": Words(
        _(
            "%(address)s cannot be a target: an http(s) URL whose host is not a loopback "
            "or private address."
        ),
        ("addresses",),
    ),
    "webhook.too_many_targets": Words(
        _("A webhook has at most %(max)s target URLs."), ("addresses",)
    ),
    "webhook.address_twice": Words(_("Each target URL once, please."), ("addresses",)),
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
    "scanner.url_invalid": Words(_("A scanner's endpoint is an http or https URL."), ("url",)),
    "scanner.auth_invalid": Words(_("Choose one of the authorization types."), ("auth",)),
    "scanner.taken": Words(
        _("A scanner with this name or endpoint URL is registered already."), ("name", "url")
    ),
    "scanner.name_taken": Words(_("A scanner named %(name)s is registered already."), ("name",)),
    "scanner.url_taken": Words(
        _("A scanner with the endpoint %(url)s is registered already."), ("url",)
    ),
    "scanner.immutable": Words(_("The scanner %(name)s is built in: it cannot be changed.")),
    "scanner.disabled": Words(_("The scanner %(name)s is disabled: enable it first.")),
    "scanner.unreachable": Words(
        _("The scanner does not answer as a scanner adapter (%(why)s)."), ("url",)
    ),
    "scan.no_scanner": Words(
        _("No scanner is set for the project %(project)s: an administrator registers one.")
    ),
    "scan.type_invalid": Words(_("A scan is of vulnerabilities or an SBOM.")),
    "scan.type_unsupported": Words(_("The scanner %(name)s cannot produce this kind of report.")),
    "scan.artifact_unsupported": Words(
        _("The scanner %(name)s cannot scan artifacts of this type.")
    ),
    "scan.not_running": Words(_("No such scan is running.")),
    "allowlist.cve_required": Words(_("Each entry is a CVE ID."), ("items",)),
    "allowlist.expiry_invalid": Words(
        _("An expiry is seconds since the epoch, or empty for never."), ("expires_at",)
    ),
    "key.name_required": Words(_("A key needs a name (at most 128 characters)."), ("name",)),
    "key.not_pem": Words(_("This is not a PEM public key or X.509 certificate."), ("public_key",)),
    "key.too_long": Words(_("A public key has at most %(max)s characters."), ("public_key",)),
    "key.curve_unsupported": Words(
        _("The curve %(curve)s is not supported: use P-256 or P-384."), ("public_key",)
    ),
    "key.rsa_weak": Words(
        _("An RSA key of %(bits)s bits is too weak: 2048 bits at least."), ("public_key",)
    ),
    "key.type_unsupported": Words(
        _("This kind of key is not supported: use ECDSA P-256/P-384, RSA or Ed25519."),
        ("public_key",),
    ),
    "key.too_many": Words(_("At most %(max)s keys can be trusted here.")),
    "key.trusted_already": Words(
        _("This key is trusted already (fingerprint %(fingerprint)s)."), ("public_key",)
    ),
    "retention.count_invalid": Words(
        _("The number is a whole number from 0 to %(max)s."), ("count",)
    ),
    "retention.too_many": Words(_("A retention policy has at most %(max)s rules.")),
    "retention.same_rule": Words(_("The same rule exists already.")),
    "retention.exists": Words(_("The project has a retention policy already: reload the page.")),
    "retention.running": Words(_("The retention policy is running now: wait for it to end.")),
    "proxy.registry_gone": Words(
        _("This registry endpoint does not exist (any more)."), ("registry_id",)
    ),
    "proxy.type_unsupported": Words(
        _("A registry of type %(type)s cannot back a proxy cache."), ("registry_id",)
    ),
    "webhook.required": Words(_("This field is required.")),
    "webhook.too_long": Words(_("At most %(max)s characters.")),
    "webhook.targets_required": Words(_("Give at least one target URL."), ("addresses",)),
    "webhook.event_types_required": Words(_("Choose at least one event type."), ("event_types",)),
    "oidc.provider_unavailable": Words(
        _("The OIDC provider cannot be reached now: try again later or ask an administrator.")
    ),
    "oidc.state_unknown": Words(_("This sign-in has expired or was used already: sign in again.")),
    "oidc.provider_refused": Words(_("The OIDC provider refused the sign-in (%(why)s).")),
    "oidc.no_code": Words(_("The OIDC provider sent no authorization code: sign in again.")),
    "oidc.no_token": Words(_("The OIDC provider sent no ID token: sign in again.")),
    "oidc.token_refused": Words(_("The OIDC provider's ID token was refused (%(why)s).")),
    "oidc.claim_missing": Words(
        _("The ID token has no %(claim)s claim: ask an administrator to check the OIDC settings.")
    ),
    "oidc.no_username": Words(
        _("The ID token names no user: ask an administrator to check the username claim.")
    ),
    "oidc.onboarded_already": Words(
        _("This OIDC identity has an account here already: sign in again.")
    ),
    "oidc.secret_weak": Words(
        _("A CLI secret needs 8-128 characters: an upper-case letter, a lower-case one, a digit."),
        ("secret",),
    ),
    "oidc.not_onboarded": Words(_("%(user)s did not sign in through OIDC, so has no CLI secret.")),
    "oidc.cli_secret_forbidden": Words(_("Only the user or a system administrator may do this.")),
    "oidc.cli_secret_mode": Words(_("CLI secrets exist only under OIDC authentication.")),
    "user.name_invalid": Words(
        _(
            "A username has 1-255 characters, without spaces, commas, double quotes, percent "
            "signs or any of ~ # $ : / \\."
        ),
        ("username",),
    ),
    "user.name_reserved": Words(_("Usernames starting with robot$ are reserved."), ("username",)),
    "group.name_invalid": Words(_("A group name has 1-255 characters."), ("group_name",)),
    "group.type_invalid": Words(_("Choose one of the group types."), ("group_type",)),
    "label.attached_already": Words(_("The label %(name)s is attached already.")),
    "job.finished": Words(_("This run has finished already.")),
    "scanner.unknown": Words(_("There is no scanner registration %(uuid)s."), ("scanner",)),
    "scan_all.schedule_invalid": Words(
        _("Choose one of the schedules: none, hourly, daily, weekly or custom."), ("type",)
    ),
    "allowlist.system_forbidden": Words(
        _("Only system administrators may change the system's CVE allowlist.")
    ),
    "allowlist.body_invalid": Words(_("A CVE allowlist is a list of CVE IDs and an expiry.")),
    "export.project_required": Words(_("Choose one project to export."), ("project",)),
    "export.type_unsupported": Words(_("Scan data of the type %(type)s cannot be exported.")),
}


class InWords(DomainError):
    """A refusal of the UI itself, already in the page's words: shown as it is."""


class Coded(DomainError):
    """A refusal of the UI's own checks, by its key in the catalogue and its parameters;
    `code` is the domain error's code (the status the page answers with)."""

    def __init__(self, key: str, code: Code = Code.BAD_REQUEST, **params: object) -> None:
        super().__init__(code, key, key=key, params=params)


# The words of a refusal without a key, by its code, where the code says enough.
BY_CODE: dict[str, str] = {Code.NOT_FOUND: "not_found"}


UNKNOWN = _("This was refused: %(detail)s")


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if not text or text[-1] in ".!?" else text + "."


def worded(refusal: object) -> Refusal:
    """The UI's words for a service's refusal (an exception with `detail`, or its message)
    and the form fields it may belong to."""
    message = str(getattr(refusal, "detail", refusal))
    if isinstance(refusal, InWords):
        return Refusal(message, ())
    key = getattr(refusal, "key", None) or BY_CODE.get(getattr(refusal, "code", None) or "")
    if key not in CATALOGUE:
        return Refusal(str(UNKNOWN) % {"detail": _sentence(message)}, ())
    words = CATALOGUE[key]
    params = dict(getattr(refusal, "params", None) or {})
    field = params.pop("field", None)
    text = str(words.text) % params if params else str(words.text)
    return Refusal(text, (str(field), *words.fields) if field else words.fields)
