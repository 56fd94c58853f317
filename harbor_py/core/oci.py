"""OCI distribution error responses and Bearer challenges."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse

API_VERSION_HEADER = ("Docker-Distribution-Api-Version", "registry/2.0")


def oci_error(status: int, code: str, message: str, detail: object = None) -> HttpResponse:
    error: dict[str, object] = {"code": code, "message": message}
    if detail is not None:
        error["detail"] = detail
    response = HttpResponse(
        json.dumps({"errors": [error]}), status=status, content_type="application/json"
    )
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


def blob_head(size: int | None, digest: str) -> HttpResponse:
    """The answer to a blob HEAD: 404, or 200 with the blob's size and digest."""
    if size is None:
        response = HttpResponse(status=404)
    else:
        response = HttpResponse(status=200, content_type="application/octet-stream")
        response["Content-Length"] = str(size)
        response["Docker-Content-Digest"] = digest
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


def challenge_header(
    scope: str | None = None, error: str | None = None, *, external_url: str | None = None
) -> str:
    """The WWW-Authenticate value that sends clients to /service/token (nginx gives the
    plain one for GET /v2/ without credentials: deploy/nginx.conf)."""
    config = settings.HARBOR
    parts = [
        f'realm="{external_url or config["EXTERNAL_URL"]}/service/token"',
        f'service="{config["TOKEN_SERVICE"]}"',
    ]
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return "Bearer " + ",".join(parts)


def challenge(scope: str | None = None, error: str | None = None) -> HttpResponse:
    """401 with the WWW-Authenticate header that sends clients to /service/token."""
    response = oci_error(401, "UNAUTHORIZED", "authentication required")
    response["WWW-Authenticate"] = challenge_header(scope, error)
    return response
