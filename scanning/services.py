"""Writes of scanning: scanner registrations, the project's scanner, CVE allowlists.
Each change writes its audit record in the same transaction (Zulip's do_* style).
Scans themselves are started in scanning.scans."""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, conflict
from harbor_py.core.http import http_url_problem
from projects.models import Project
from scanning import adapter, cache
from scanning.models import CVEAllowlist, ProjectScanner, Scanner

METADATA_SECONDS = 3600  # how long a scanner's cached metadata is used before a refresh
SYSTEM = Actor.system("harbor-scanning")

logger = logging.getLogger(__name__)


def _check_url(url: str) -> str:
    if problem := http_url_problem(url):
        raise bad_request(
            f"invalid scanner url {url!r}: {problem}",
            key="scanner.url_invalid",
        )
    return url.rstrip("/")


def _check_auth(auth: str) -> str:
    if auth not in adapter.AUTH_TYPES:
        raise bad_request(
            "auth must be one of Basic, Bearer, X-ScannerAdapter-API-Key or empty",
            key="scanner.auth_invalid",
        )
    return auth


def _record(actor: Actor, operation: str, scanner: Scanner, description: str = "") -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type="scanner",
        resource=scanner.name,
        description=description,
    )


def _saved(scanner: Scanner) -> Scanner:
    try:
        with transaction.atomic():
            scanner.save()
    except IntegrityError:
        raise conflict(
            f"a scanner registration named {scanner.name} or with url {scanner.url} exists",
            key="scanner.taken",
        ) from None
    return scanner


@transaction.atomic
def register_scanner(*, data: dict[str, Any], actor: Actor) -> Scanner:
    """createScanner: name and url required; the credential is stored encrypted."""
    scanner = Scanner(
        name=data["name"],
        description=data.get("description") or "",
        url=_check_url(data["url"]),
        auth=_check_auth(data.get("auth") or ""),
        disabled=bool(data.get("disabled", False)),
        skip_cert_verify=bool(data.get("skip_certVerify", False)),
        use_internal_addr=bool(data.get("use_internal_addr", False)),
    )
    scanner.access_credential = data.get("access_credential") or ""
    _saved(scanner)
    _record(actor, "create", scanner, f"url {scanner.url}")
    return scanner


@transaction.atomic
def update_scanner(*, scanner: Scanner, data: dict[str, Any], actor: Actor) -> Scanner:
    """updateScanner. An omitted or empty credential keeps the stored one while `auth` still
    asks for one; clearing `auth` drops it (the contract's rule)."""
    locked = Scanner.objects.select_for_update().get(pk=scanner.pk)
    if locked.immutable:
        raise DomainError(
            Code.FORBIDDEN,
            f"the scanner {locked.name} cannot be changed",
            key="scanner.immutable",
            params={"name": locked.name},
        )
    locked.name = data["name"]
    locked.url = _check_url(data["url"])
    locked.description = data.get("description") or ""
    locked.auth = _check_auth(data.get("auth") or "")
    locked.disabled = bool(data.get("disabled", False))
    locked.skip_cert_verify = bool(data.get("skip_certVerify", False))
    locked.use_internal_addr = bool(data.get("use_internal_addr", False))
    credential = data.get("access_credential") or ""
    if not locked.auth:
        locked.access_credential = ""
    elif credential:
        locked.access_credential = credential
    if locked.url != scanner.url:
        locked.metadata, locked.metadata_time = None, None
    _saved(locked)
    _record(actor, "update", locked)
    transaction.on_commit(cache.bump)
    return locked


@transaction.atomic
def delete_scanner(*, scanner: Scanner, actor: Actor) -> None:
    if scanner.immutable:
        raise DomainError(
            Code.FORBIDDEN,
            f"the scanner {scanner.name} cannot be deleted",
            key="scanner.immutable",
            params={"name": scanner.name},
        )
    _record(actor, "delete", scanner)
    transaction.on_commit(cache.bump)
    scanner.delete()


@transaction.atomic
def set_default(*, scanner: Scanner, is_default: bool, actor: Actor) -> None:
    """setScannerAsDefault: one default at a time; `false` leaves the system without one."""
    if is_default:
        if scanner.disabled:
            raise bad_request(
                f"the scanner {scanner.name} is disabled",
                key="scanner.disabled",
                params={"name": scanner.name},
            )
        Scanner.objects.filter(is_default=True).exclude(pk=scanner.pk).update(is_default=False)
    Scanner.objects.filter(pk=scanner.pk).update(is_default=is_default)
    _record(actor, "update", scanner, f"default {str(is_default).lower()}")
    transaction.on_commit(cache.bump)


def _bump_if_up() -> None:
    """`platform prepare` registers the built-in scanner before an embedded Redis is up, when
    no process holds a cached verdict yet: nothing to retire then."""
    try:
        cache.bump()
    except redis.exceptions.ConnectionError:
        logger.info("scanner caches not bumped: Redis is not up yet")


def ensure_default_scanner(*, name: str, url: str, token: str = "") -> None:
    """Register the scanner at `url` unless a registration has that URL, and make it the
    default when there is none. Idempotent: the platform calls it at every start. `token`:
    the Bearer credential the adapter asks for (the built-in scanner's); a registration
    whose stored credential differs takes the new one (the token follows the secret key)."""
    url = _check_url(url)
    with transaction.atomic():
        # one starter at a time: the default is decided under this lock
        list(Scanner.objects.select_for_update().filter(is_default=True))
        existing = Scanner.objects.filter(url=url).first()
        if existing is None:
            taken = Scanner.objects.filter(name=name).exists()
            existing = Scanner(
                name=f"{name} ({url})" if taken else name,
                url=url,
                description="the built-in scanner",
                auth="Bearer" if token else "",
            )
            existing.access_credential = token
            existing.save()
            _record(SYSTEM, "create", existing, f"url {url}")
        elif token and (existing.auth != "Bearer" or existing.access_credential != token):
            existing.auth = "Bearer"
            existing.access_credential = token
            existing.save(update_fields=["auth", "access_credential_encrypted"])
            _record(SYSTEM, "update", existing, "credential of the built-in scanner")
            transaction.on_commit(_bump_if_up)
        if not Scanner.objects.filter(is_default=True).exists() and not existing.disabled:
            Scanner.objects.filter(pk=existing.pk).update(is_default=True)
            transaction.on_commit(_bump_if_up)


def endpoint_of(scanner: Scanner) -> adapter.Endpoint:
    return adapter.Endpoint(
        url=scanner.url,
        auth=scanner.auth,
        credential=scanner.access_credential,
        skip_cert_verify=scanner.skip_cert_verify,
    )


def fresh_metadata(scanner: Scanner) -> dict[str, Any]:
    """Ask the adapter and keep the answer (AdapterError when it cannot be asked)."""
    found = adapter.metadata(endpoint_of(scanner))
    now = timezone.now()
    Scanner.objects.filter(pk=scanner.pk).update(metadata=found, metadata_time=now)
    scanner.metadata, scanner.metadata_time = found, now
    return found


def cached_metadata(scanner: Scanner) -> dict[str, Any]:
    """The metadata, from the registration while it is younger than METADATA_SECONDS."""
    if scanner.metadata and scanner.metadata_time:
        age = (timezone.now() - scanner.metadata_time).total_seconds()
        if age < METADATA_SECONDS:
            return scanner.metadata
    return fresh_metadata(scanner)


def ping(*, data: dict[str, Any]) -> dict[str, Any]:
    """pingScanner: the metadata of an adapter that is not registered (yet)."""
    endpoint = adapter.Endpoint(
        url=_check_url(data["url"]),
        auth=_check_auth(data.get("auth") or ""),
        credential=data.get("access_credential") or "",
    )
    try:
        return adapter.metadata(endpoint)
    except adapter.AdapterError as exc:
        raise bad_request(
            f"failed to ping the scanner: {exc}",
            key="scanner.unreachable",
            params={"why": str(exc)},
        ) from None


@transaction.atomic
def set_project_scanner(*, project: Project, scanner: Scanner, actor: Actor) -> None:
    if scanner.disabled:
        raise bad_request(
            f"the scanner {scanner.name} is disabled",
            key="scanner.disabled",
            params={"name": scanner.name},
        )
    ProjectScanner.objects.update_or_create(project=project, defaults={"scanner": scanner})
    record(
        actor=actor,
        operation="update",
        resource_type="project_scanner",
        resource=project.name,
        project_id=project.pk,
        project_name=project.name,
        description=f"scanner {scanner.name}",
    )
    transaction.on_commit(cache.bump)


def _clean_items(items: Any) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise bad_request("items must be a list of {cve_id}", key="allowlist.cve_required")
    found: list[str] = []
    for item in items:
        cve = item.get("cve_id") if isinstance(item, dict) else None
        if not isinstance(cve, str) or not cve.strip():
            raise bad_request(
                "every item of the allowlist needs a cve_id", key="allowlist.cve_required"
            )
        if cve.strip() not in found:
            found.append(cve.strip())
    return found


def _clean_expiry(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise bad_request(
            "expires_at must be seconds since the epoch, or null", key="allowlist.expiry_invalid"
        )
    return value


@transaction.atomic
def set_allowlist(*, project: Project | None, data: dict[str, Any], actor: Actor) -> CVEAllowlist:
    """The system allowlist (project None) or a project's: items and expires_at replaced."""
    items = _clean_items(data.get("items"))
    expires_at = _clean_expiry(data.get("expires_at"))
    allowlist = CVEAllowlist.objects.select_for_update().filter(project=project).first()
    if allowlist is None:
        allowlist = CVEAllowlist(project=project)
    allowlist.items, allowlist.expires_at = items, expires_at
    allowlist.save()
    record(
        actor=actor,
        operation="update",
        resource_type="cve_allowlist",
        resource=project.name if project else "system",
        project_id=project.pk if project else None,
        project_name=project.name if project else "",
        description=f"{len(items)} CVEs, expires_at {expires_at}",
    )
    transaction.on_commit(cache.allowlists_changed)
    return allowlist
