"""Small request helpers shared by the API and the /v2 gate."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request


def client_address(request: HttpRequest | Request) -> str:
    """The caller's address. nginx, the only front door, sets X-Real-IP."""
    return request.META.get("HTTP_X_REAL_IP") or request.META.get("REMOTE_ADDR", "")
