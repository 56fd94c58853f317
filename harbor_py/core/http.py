"""Small request helpers shared by the API, the /v2 gate and the UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest
from rest_framework.request import Request

from harbor_py.core.errors import Code, DomainError


def client_address(request: HttpRequest | Request) -> str:
    """The caller's address. nginx, the only front door, sets X-Real-IP."""
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR", "")


def http_url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL with a host and a valid port, or None. urlsplit
    raises on a bracket it cannot close, and its `port` on one out of range or not a
    number: unchecked, a URL a client wrote was a 500 where it was parsed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a bad port
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http or https URL with a host is required"
    return None


# The HTTP status of each domain error code, the same on the REST API and the /v2 gate.
STATUS_BY_CODE: dict[Code, int] = {
    Code.BAD_REQUEST: 400,
    Code.MANIFEST_INVALID: 400,
    Code.MANIFEST_BLOB_UNKNOWN: 400,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.DENIED: 403,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.PRECONDITION: 412,
    Code.VIOLATE_FOREIGN_KEY_CONSTRAINT: 412,
    Code.PAYLOAD_TOO_LARGE: 413,
    Code.UNKNOWN: 500,
    Code.SERVICE_UNAVAILABLE: 503,
}


def status_of(error: DomainError) -> int:
    return STATUS_BY_CODE[error.code]
