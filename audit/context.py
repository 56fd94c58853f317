"""The request being served, for the audit fields that services are not told explicitly.

Services take the actor explicitly; the client address is the same for every entry of a
request and most services have no reason to know it, so record() falls back to the address
of the request in progress (set by audit.middleware.AuditContextMiddleware). Outside a
request (Celery jobs, management commands) there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest

from harbor_py.core.http import client_address as _address_of

_current: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


@contextmanager
def serving(request: HttpRequest) -> Iterator[None]:
    token = _current.set(request)
    try:
        yield
    finally:
        _current.reset(token)


def client_address() -> str:
    request = _current.get()
    return _address_of(request) if request is not None else ""
