"""Check API responses against Harbor's API v2.0 contract (shared/reference/harbor-api-v2.0.yaml).

    assert_matches("listProjects", response)

Validates the body against the operation's response schema for the response's status,
with every object closed (a field the contract does not declare is an error), so that a
misspelled or invented field fails the test.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# shared/ lies beside the repository (in CI too: "a copy of shared/ beside it").
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"
REFERENCE = REFERENCE_DIR / "harbor-api-v2.0.yaml"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(REFERENCE.read_text())


@cache
def operations() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (METHOD, path, operation)."""
    found = {}
    for path, methods in spec()["paths"].items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def _close(schema: Any) -> Any:
    if isinstance(schema, dict):
        if schema == {"type": "object"}:
            # go-swagger's spelling of interface{} (e.g. the values of ExtraAttrs): any JSON
            return {}
        schema = {k: _close(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        if schema.get("x-nullable") and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        return schema
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    return schema


@cache
def _definitions() -> dict[str, Any]:
    return _close(copy.deepcopy(spec()["definitions"]))


def response_schema(operation_id: str, status: int) -> dict[str, Any] | None:
    _, _, operation = operations()[operation_id]
    response = operation["responses"].get(str(status))
    if response is None:
        raise AssertionError(f"{operation_id} does not declare status {status}")
    if "$ref" in response:
        response = spec()["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response.get("schema")
    return _close(copy.deepcopy(schema)) if schema else None


def assert_matches(operation_id: str, response: Any, status: int | None = None) -> None:
    """`response` is an httpx/requests/Django test response; `status`, when given, is the
    status it must have."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:500])
    status = response.status_code
    validator = _validator(operation_id, status)
    if validator is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(response.json()))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path)
        raise AssertionError(
            f"{operation_id} {status} body violates the contract at {path!r}: {error.message}"
        )


@cache
def _checked_definitions() -> dict[str, Any]:
    """Checked against the metaschema once: that costs a few hundred milliseconds."""
    definitions = _definitions()
    jsonschema.Draft4Validator.check_schema({"definitions": definitions})
    return definitions


@cache
def _validator(operation_id: str, status: int) -> jsonschema.Draft4Validator | None:
    schema = response_schema(operation_id, status)
    if schema is None:
        return None
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator({**schema, "definitions": _checked_definitions()})
