"""Read-only mode's middleware (wiring): a write that the mode refuses gets Harbor's 403
DENIED answer before any view runs. The rules themselves (what is a write, which writes
stay allowed, what tokens and jobs may do) are in the kernel, harbor_py/core/readonly.py,
where the apps that apply them can import them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from harbor_py.api.errors import error_body
from harbor_py.core.readonly import MESSAGE, refuses

logger = logging.getLogger(__name__)

__all__ = ["MESSAGE", "ReadOnlyMiddleware", "denied_response"]


def denied_response() -> HttpResponse:
    return JsonResponse(error_body("DENIED", MESSAGE), status=403)


class ReadOnlyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if refuses(request.method or "GET", request.path):
            logger.warning("refused in read only mode: %s %s", request.method, request.path)
            return denied_response()
        return self.get_response(request)
