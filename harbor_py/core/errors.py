"""Domain errors: what went wrong, as a code and a message, with no HTTP in them.

Services, selectors and tasks raise these; each surface maps them once: the REST API to
Harbor's `{"errors":[{"code","message"}]}` (harbor_py/api/errors.py), the /v2 gate to OCI
errors (registry/gate_errors.py), the UI to a translated title by code
(frontend/refusals.py). The codes are Harbor's, so the API shows them as they are.
"""

from __future__ import annotations

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

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bad_request(message: str) -> DomainError:
    return DomainError(Code.BAD_REQUEST, message)


def not_found(message: str) -> DomainError:
    return DomainError(Code.NOT_FOUND, message)


def conflict(message: str) -> DomainError:
    return DomainError(Code.CONFLICT, message)


def forbidden(message: str = "forbidden") -> DomainError:
    return DomainError(Code.FORBIDDEN, message)


def precondition(message: str) -> DomainError:
    return DomainError(Code.PRECONDITION, message)


def failed(message: str) -> DomainError:
    return DomainError(Code.UNKNOWN, message)
