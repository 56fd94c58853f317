"""Harbor's error shape, {"errors":[{"code","message"}]}, for every API failure."""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeVar

from django import db
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)
ResponseT = TypeVar("ResponseT", Response, JsonResponse)

CODE_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    412: "PRECONDITION",
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
    """An API error with an explicit Harbor code; raise from services and views alike."""

    def __init__(self, status_code: int, message: str, code: str | None = None) -> None:
        self.status_code = status_code
        self.harbor_code = code or CODE_BY_STATUS.get(status_code, "UNKNOWN")
        super().__init__(detail=message)


def bad_request(message: str) -> HarborError:
    return HarborError(400, message)


def not_found(message: str) -> HarborError:
    return HarborError(404, message)


def conflict(message: str) -> HarborError:
    return HarborError(409, message)


def forbidden(message: str = "forbidden") -> HarborError:
    return HarborError(403, message)


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


def harbor_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None and _database_unavailable(exc):
        logger.warning("database unavailable: %s", exc)
        return _unavailable(Response(error_body("SERVICE_UNAVAILABLE", DATABASE_DOWN), status=503))
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


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(404, "not found")


def server_error_view(request: HttpRequest) -> JsonResponse:
    """Django's handler500, called while the exception is being handled."""
    if _database_unavailable(sys.exc_info()[1]):
        if request.path == "/v2" or request.path.startswith("/v2/"):  # OCI's own code
            body = error_body("UNAVAILABLE", DATABASE_DOWN)
            response = JsonResponse(body, status=503)
            response["Docker-Distribution-Api-Version"] = "registry/2.0"
        else:
            response = json_error(503, DATABASE_DOWN)
        return _unavailable(response)
    return json_error(500, "internal server error")


DATABASE_DOWN = "the database is unavailable; retry shortly"


def _database_unavailable(exc: BaseException | None) -> bool:
    """A lost or refused connection (what a failover looks like to a query: HAProxy sends
    no session to a standby), or a deadlock or serialization failure: worth retrying."""
    return isinstance(exc, db.OperationalError | db.InterfaceError)


def _unavailable(response: ResponseT) -> ResponseT:
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
