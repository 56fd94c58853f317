"""DRF authentication: HTTP Basic (with the credential cache) and the UI session with CSRF."""

from __future__ import annotations

import base64
import binascii

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.login import LoginThrottled, authenticate_credentials
from accounts.login_errors import LoginRefused
from accounts.models import User
from accounts.robots import RobotUser
from harbor_py.core.http import client_address


def parse_basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class _Refused(exceptions.APIException):
    """LoginRefused other than 401 (the directory is unavailable), in the Harbor shape.
    Not harbor_py.api.errors.DomainError: DRF imports this module while that one loads."""

    def __init__(self, refused: LoginRefused) -> None:
        self.status_code = refused.status
        self.harbor_code = refused.code
        super().__init__(detail=str(refused))


class CachedBasicAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User | RobotUser, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        pair = parse_basic(header)
        if pair is None:
            raise exceptions.AuthenticationFailed("malformed basic credentials")
        try:
            user = authenticate_credentials(*pair, address=client_address(request))
        except LoginThrottled as exc:
            raise exceptions.Throttled(detail=str(exc)) from None
        except LoginRefused as exc:
            if exc.status == 401:
                raise exceptions.AuthenticationFailed(str(exc)) from None
            raise _Refused(exc) from None
        if user is None:
            raise exceptions.AuthenticationFailed("invalid username or password")
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return 'Basic realm="harbor"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The UI session; unsafe methods need the CSRF token (DRF enforces it here)."""
