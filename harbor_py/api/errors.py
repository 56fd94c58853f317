"""Harbor's error shape, {"errors":[{"code","message"}]}, for every API failure."""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeVar

from django import db
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.csrf import csrf_failure
from redis import exceptions as redis_errors
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from harbor_py.core.errors import DomainError
from harbor_py.core.http import status_of
from harbor_py.core.oci import oci_error

logger = logging.getLogger(__name__)
ResponseT = TypeVar("ResponseT", bound=HttpResponse)

CODE_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
    500: "UNKNOWN",
    503: "SERVICE_UNAVAILABLE",
}
# While PostgreSQL fails over (no primary for the seconds Patroni takes, docs/deployment.md)
# every query fails: the client is told to come back, not that the server is broken.
DATABASE_RETRY_AFTER_SECONDS = 5


class HarborError(exceptions.APIException):
    """A domain error (harbor_py.core.errors) as DRF's exception, with its HTTP status:
    DRF then answers it as any other API failure (and rolls the request back)."""

    def __init__(self, status_code: int, message: str, code: str | None = None) -> None:
        self.status_code = status_code
        self.harbor_code = code or CODE_BY_STATUS.get(status_code, "UNKNOWN")
        super().__init__(detail=message)


def error_body(code: str, message: str) -> dict[str, list[dict[str, str]]]:
    return {"errors": [{"code": code, "message": message}]}


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out: list[str] = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "detail") else f"{prefix}{key}"
            out.extend(_flatten(value, f"{name}." if name else ""))
        return out
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    text = str(detail)
    return [f"{prefix.rstrip('.')}: {text}" if prefix else text]


def _client_fault(exc: Exception) -> exceptions.APIException | None:
    """Failures that only bad input reaches: a 4xx, not a 500 (issue #20). The views
    validate what they take; this is the net under what a check missed."""
    if isinstance(exc, RequestDataTooBig):
        return HarborError(413, "the request body is too large")
    if isinstance(exc, RecursionError):
        return HarborError(400, "the request is nested too deeply")
    if isinstance(exc, DataError | OverflowError):
        logger.warning("bad input reached the database or a conversion: %s", exc)
        return HarborError(400, "a value in the request is out of range or invalid")
    return None


def harbor_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _client_fault(exc) or exc
    if isinstance(exc, DomainError):
        exc = HarborError(status_of(exc), exc.message, exc.code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None and (down := _unavailable_backend(exc)):
        logger.warning("%s: %s", down, exc)
        return _unavailable(Response(error_body("SERVICE_UNAVAILABLE", down), status=503))
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            error_body("UNKNOWN", "internal server error"),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = getattr(exc, "harbor_code", None) or CODE_BY_STATUS.get(response.status_code, "UNKNOWN")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response.status_code = 401
        code = "UNAUTHORIZED"
        response["WWW-Authenticate"] = 'Basic realm="harbor"'
    message = "; ".join(_flatten(response.data)) if response.data else ""
    response.data = error_body(code, message or code.lower())
    return response


def json_error(status_code: int, message: str) -> JsonResponse:
    return JsonResponse(
        error_body(CODE_BY_STATUS.get(status_code, "UNKNOWN"), message), status=status_code
    )


def _registry_path(request: HttpRequest) -> bool:
    return request.path == "/v2" or request.path.startswith("/v2/")


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _registry_path(request):  # registry clients read OCI errors
        return oci_error(404, "UNSUPPORTED", "no such registry route")
    return json_error(404, "not found")


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a Host the configuration does not name, and other suspicious requests."""
    if _registry_path(request):
        return oci_error(400, "UNSUPPORTED", "bad request")
    return json_error(400, "bad request")


def server_error_view(request: HttpRequest) -> HttpResponse:
    """Django's handler500, called while the exception is being handled: a database that
    is unavailable (a failover) is a 503 to retry, anything else a 500."""
    if down := _unavailable_backend(sys.exc_info()[1]):
        if _registry_path(request):  # OCI's own code
            return _unavailable(oci_error(503, "UNAVAILABLE", down))
        return _unavailable(json_error(503, down))
    if _registry_path(request):
        return oci_error(500, "UNKNOWN", "internal server error")
    return json_error(500, "internal server error")


DATABASE_DOWN = "the database is unavailable; retry shortly"
CACHE_DOWN = "Redis is unavailable; retry shortly"
# What a Redis failover looks like to a command (Sentinel promotes a replica in seconds):
# no master found or the connection lost or timed out, a write to the old master that
# came back as a replica, a replica still loading its data.
_REDIS_FAILOVER = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
)


def _unavailable_backend(exc: BaseException | None) -> str | None:
    """Why the request is worth retrying, if it is: a lost or refused database connection
    (what a failover looks like to a query: HAProxy sends no session to a standby), a
    deadlock or serialization failure, or Redis failing over."""
    if isinstance(exc, db.OperationalError | db.InterfaceError):
        return DATABASE_DOWN
    if isinstance(exc, _REDIS_FAILOVER):
        return CACHE_DOWN
    return None


def _unavailable(response: ResponseT) -> ResponseT:
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def csrf_failure_view(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the API and the login endpoint answer in Harbor's shape; the web
    UI's pages keep Django's page."""
    if request.path.startswith(("/api/", "/c/")):
        return json_error(403, f"CSRF verification failed: {reason}")
    return csrf_failure(request, reason)
