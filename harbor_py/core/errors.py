"""Domain errors: what went wrong, as a code and a message, with no HTTP in them.

Services, selectors and tasks raise these; each surface maps them once: the REST API to
Harbor's `{"errors":[{"code","message"}]}` (harbor_py/api/errors.py), the /v2 gate to OCI
errors (registry/gate_errors.py), the UI to a translated title by code
(frontend/refusals.py). The codes are Harbor's, so the API shows them as they are.

A refusal the UI words in its own (translated) sentences carries a `key` of the UI's
catalogue (`frontend.refusals.CATALOGUE`) and the `params` its sentence needs (a `field`
parameter names the form field it is about). The API ignores both: its message stays
the English sentence Harbor's clients know.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Code(StrEnum):
    BAD_REQUEST = "BAD_REQUEST"  # the input is invalid
    UNAUTHORIZED = "UNAUTHORIZED"  # who is asking is unknown
    FORBIDDEN = "FORBIDDEN"  # who is asking may not do this
    DENIED = "DENIED"  # a limit refuses it (a quota)
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"  # it exists already, or changed meanwhile
    PRECONDITION = "PRECONDITION"  # not possible in the present state
    VIOLATE_FOREIGN_KEY_CONSTRAINT = "VIOLATE_FOREIGN_KEY_CONSTRAINT"  # still referenced
    MANIFEST_INVALID = "MANIFEST_INVALID"
    MANIFEST_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # a service we depend on does not answer
    UNKNOWN = "UNKNOWN"  # failed on our side


class DomainError(Exception):
    """A refusal or failure of the domain; `str()` is the message."""

    def __init__(
        self,
        code: Code,
        message: str,
        *,
        key: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key  # the UI catalogue's key, None when the UI has no words of its own
        self.params = dict(params or {})


class Problem(str):
    """A check's finding (a settings check returns one, or None): the English words as a
    `str`, and the UI catalogue's key and parameters for the refusal it becomes."""

    key: str | None
    params: dict[str, object]

    def __new__(cls, text: str, key: str | None = None, **params: object) -> Problem:
        problem = super().__new__(cls, text)
        problem.key, problem.params = key, params
        return problem


def bad_request(
    message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
) -> DomainError:
    return DomainError(Code.BAD_REQUEST, message, key=key, params=params)


def not_found(
    message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
) -> DomainError:
    return DomainError(Code.NOT_FOUND, message, key=key, params=params)


def conflict(
    message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
) -> DomainError:
    return DomainError(Code.CONFLICT, message, key=key, params=params)


def forbidden(
    message: str = "forbidden",
    *,
    key: str | None = None,
    params: Mapping[str, object] | None = None,
) -> DomainError:
    return DomainError(Code.FORBIDDEN, message, key=key, params=params)


def precondition(
    message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
) -> DomainError:
    return DomainError(Code.PRECONDITION, message, key=key, params=params)


def failed(message: str) -> DomainError:
    return DomainError(Code.UNKNOWN, message)
