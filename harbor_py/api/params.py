"""Reading a REST request: Harbor's query flags and headers, and who may call at all."""

from __future__ import annotations

from typing import Any, overload

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.serializers import Serializer

from harbor_py.core.errors import Code, DomainError, bad_request


def is_resource_name(request: Any) -> bool | None:
    raw = request.headers.get("X-Is-Resource-Name")
    if raw is None:
        return None
    return raw.lower() == "true"


@overload
def bool_param(request: Request, name: str, default: bool) -> bool: ...
@overload
def bool_param(request: Request, name: str, default: None = None) -> bool | None: ...
def bool_param(request: Request, name: str, default: bool | None = None) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false")


def validated_body(serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
    """The request body as `serializer_class` validates it; a 400 with its field errors if not."""
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def require_authenticated(request: Request | HttpRequest) -> None:
    if not request.user.is_authenticated:
        raise DomainError(Code.UNAUTHORIZED, "authentication required")


def require_user(request: Request) -> None:
    """A signed-in person: robot accounts own nothing and have no profile."""
    require_authenticated(request)
    if getattr(request.user, "is_robot", False):
        raise DomainError(Code.FORBIDDEN, "not allowed for robot accounts")
