"""OpenAPI descriptions of our authentication classes (loaded in HarborPyConfig.ready)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema


class BasicAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CachedBasicAuthentication"
    name = "basic"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "basic"}


class SessionAuthScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.CsrfSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sid"}


ERRORS_SCHEMA = {
    "type": "object",
    "description": "Harbor's error shape: every refusal of the API",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["code", "message"],
            },
        }
    },
    "required": ["errors"],
}


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation answers any status it does not list (400, 401, 403, 404, 405, 409,
    413, 415, 429, ...) with Harbor's error shape; the document says so, and the fuzzer
    (tests/e2e/test_fuzz.py) holds every answer to it."""
    result.setdefault("components", {}).setdefault("schemas", {})["Errors"] = ERRORS_SCHEMA
    error = {
        "description": "Harbor's error shape",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
    }
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method in ("get", "put", "post", "delete", "patch", "head"):
                operation.setdefault("responses", {}).setdefault("default", error)
    return result


OBJECTS = {"type": "array", "items": {"type": "object"}}
STRINGS = {"type": "array", "items": {"type": "string"}}
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="The page number"),
    OpenApiParameter("page_size", int, description="The size per page"),
    OpenApiParameter("q", str, description="Query string (Harbor's q= syntax)"),
    OpenApiParameter("sort", str, description="Sort keys, comma separated, - for descending"),
]


def listing(operation_id: str, *, items: dict[str, Any] = OBJECTS, paged: bool = True) -> Any:
    """extend_schema for a list that a plain APIView answers: an array, and Harbor's page,
    page_size, q and sort (drf-spectacular sees neither on an APIView)."""
    return extend_schema(
        operation_id=operation_id,
        responses={200: items},
        parameters=PAGE_PARAMETERS if paged else None,
    )
