"""Check the built-in scanner's answers against Harbor's scanner adapter API v1.2
(shared/reference/scanner/scanner-adapter-openapi-v1.2.yaml).

    assert_adapter_matches("GetScanReport", response)

The response's status must be one the operation declares, its Content-Type one of that
status's media types, and its body valid against the schema, with every object closed (a
field the document does not declare is an error), as tests/contract.py does for Harbor's
API. A 302 must carry an integer Refresh-After.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

import jsonschema
import yaml

from tests.contract import REFERENCE_DIR

ADAPTER = REFERENCE_DIR / "scanner" / "scanner-adapter-openapi-v1.2.yaml"


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(ADAPTER.read_text())


def _close(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {k: _close(v) for k, v in schema.items() if k not in ("example", "descriptions")}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        if schema.pop("nullable", False) and "type" in schema:
            schema["type"] = [schema["type"], "null"]
        if "$ref" in schema:
            schema["$ref"] = schema["$ref"].replace("#/components/schemas/", "#/definitions/")
        return schema
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    return schema


@cache
def _definitions() -> dict[str, Any]:
    return _close(copy.deepcopy(spec()["components"]["schemas"]))


def operation(operation_id: str) -> dict[str, Any]:
    for methods in spec()["paths"].values():
        for op in methods.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise KeyError(operation_id)


def assert_adapter_matches(operation_id: str, response: Any, status: int | None = None) -> None:
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:500])
    declared = operation(operation_id)["responses"]
    answer = declared.get(response.status_code) or declared.get(str(response.status_code))
    assert answer is not None, f"{operation_id} does not declare {response.status_code}"
    if response.status_code == 302:
        assert int(response.headers["Refresh-After"]) > 0
    content = answer.get("content")
    if not content:
        return
    media_type = response.headers.get("Content-Type", "")
    assert media_type in content, f"{operation_id}: {media_type!r} not in {sorted(content)}"
    schema = _close(copy.deepcopy(content[media_type]["schema"]))
    validator = jsonschema.Draft4Validator({**schema, "definitions": _definitions()})
    error = jsonschema.exceptions.best_match(validator.iter_errors(response.json()))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path)
        raise AssertionError(
            f"{operation_id} body violates the adapter API at {path!r}: {error.message}"
        )
