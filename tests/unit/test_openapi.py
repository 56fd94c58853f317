"""harbor-py publishes its own OpenAPI document; every operation issue 3 names is in it,
at Harbor's method and path."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from tests.contract import operations

GROUPS = [
    "project",
    "projectMetadata",
    "member",
    "repository",
    "artifact",
    "label",
    "user",
    "usergroup",
    "search",
    "statistic",
    "systeminfo",
    "health",
    "ping",
    "permissions",
    "configure",
    "icon",
    # scanning (#22)
    "scanner",
    "scan",
    "scanAll",
    "securityhub",
    "scan data export",
    "SystemCVEAllowlist",
    "oidc",
]
EXCLUDED: set[str] = set()


def _required() -> dict[str, tuple[str, str]]:
    required = {}
    for operation_id, (method, path, operation) in operations().items():
        if operation_id in EXCLUDED:
            continue
        if set(operation.get("tags", [])) & set(GROUPS):
            required[operation_id] = (method, path)
    return required


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/"))


@pytest.fixture(scope="module")
def published() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_openapi_document_is_served(client):
    response = client.get("/api/v2.0/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"].startswith("3.")


def test_swagger_ui_page_is_served(client):
    response = client.get("/devcenter-api-2.0")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_every_required_operation_is_published(published):
    ours = {}
    for path, methods in published["paths"].items():
        for method, operation in methods.items():
            ours[operation["operationId"]] = (method.upper(), _shape(path))
    missing, misplaced = [], []
    for operation_id, (method, path) in sorted(_required().items()):
        if method == "HEAD":  # OpenAPI generators leave HEAD out; check the route itself
            view = resolve("/api/v2.0" + path.replace("{", "x").replace("}", "")).func
            if not hasattr(getattr(view, "view_class", None), "head"):
                missing.append(operation_id)
            continue
        if operation_id not in ours:
            missing.append(operation_id)
        elif ours[operation_id] != (method, _shape("/api/v2.0" + path)):
            misplaced.append(f"{operation_id}: ours {ours[operation_id]}, Harbor {method} {path}")
    assert not missing, f"{len(missing)} operations missing: {', '.join(missing)}"
    assert not misplaced, "\n".join(misplaced)
