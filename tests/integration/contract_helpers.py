"""Check a response's status, Harbor error shape and contract in one call."""

from __future__ import annotations

from tests.contract import assert_matches, operations
from tests.integration.conftest import assert_harbor_error


def declared(operation_id: str, status: int) -> bool:
    return str(status) in operations()[operation_id][2]["responses"]


def check(operation_id: str, response, status: int, code: str | None = None):
    """`status` it must have; errors must be Harbor errors; the body must match the contract
    wherever the contract declares that status (Harbor sends some it does not declare,
    such as 401 on operations that only list 403)."""
    assert response.status_code == status, (operation_id, response.status_code, response.content)
    if status >= 400:
        assert_harbor_error(response, status, code)
    if declared(operation_id, status):
        assert_matches(operation_id, response)
    return response.json() if response.content else None
