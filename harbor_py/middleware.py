"""Request ids (accept the caller's X-Request-Id, as Harbor does, or mint one, and echo it),
and the web-only wrappers that keep UI middleware off the registry paths."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from harbor_py.core import configuration
from harbor_py.core.oci import oci_error
from harbor_py.ops.jsonlog import request_id as current_request_id

logger = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # META, not request.headers: that parses every header of the request into a dict
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _SAFE_ID.match(given) else secrets.token_hex(16)
        request.request_id = request_id  # type: ignore[attr-defined]  # our attribute on Django's request
        token = current_request_id.set(request_id)  # for every log line of this request
        try:
            with configuration.per_request():
                response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-Id"] = request_id
        return response


# Registry clients (the /v2/ API and the token service) send no cookies and get no pages.
REGISTRY_PREFIXES = ("/v2/", "/service/token")


def is_registry_path(path: str) -> bool:
    return path == "/v2" or path.startswith(REGISTRY_PREFIXES)


# A middleware class with this attribute true does nothing on registry paths: the
# registry paths' handler (harbor_py.wsgi.RegistryHandler) leaves it out of its chain.
SKIPPED_ON_REGISTRY_PATHS = "skipped_on_registry_paths"


def registry_middleware_paths() -> list[str]:
    """settings.MIDDLEWARE without the classes that step aside on registry paths."""
    return [
        dotted
        for dotted in settings.MIDDLEWARE
        if not getattr(import_string(dotted), SKIPPED_ON_REGISTRY_PATHS, False)
    ]


@contextmanager
def registry_middleware() -> Iterator[None]:
    """settings.MIDDLEWARE is the registry paths' chain meanwhile: for Django's
    `load_middleware`, which reads the setting, once when a handler is built."""
    everything = settings.MIDDLEWARE
    settings.MIDDLEWARE = registry_middleware_paths()
    try:
        yield
    finally:
        settings.MIDDLEWARE = everything


class _WebOnly:
    """Runs the wrapped Django middleware everywhere but on registry paths.

    Sessions, CSRF, messages, slash redirects and frame options are for the web UI and the
    REST API. Every image push makes six requests on registry paths, and this stack cost
    about 1 ms of CPU per image there; CommonMiddleware alone resolved the URL a second time
    for every 404 (each blob HEAD of a new layer) to offer a slash redirect."""

    wrapped: ClassVar[str]
    skipped_on_registry_paths: ClassVar[bool] = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.middleware = import_string(self.wrapped)(get_response)
        # Django collects process_view from the instance; CsrfViewMiddleware has one.
        if hasattr(self.middleware, "process_view"):
            self.process_view = self._process_view
        unsupported = {"process_exception", "process_template_response"}
        if found := {hook for hook in unsupported if hasattr(self.middleware, hook)}:
            raise ImproperlyConfigured(f"{self.wrapped} has {found}, which _WebOnly drops")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_registry_path(request.path_info):
            return self.get_response(request)
        return self.middleware(request)

    def _process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if is_registry_path(request.path_info):
            return None
        return self.middleware.process_view(request, view, args, kwargs)


class SessionMiddleware(_WebOnly):
    wrapped = "django.contrib.sessions.middleware.SessionMiddleware"


class CommonMiddleware(_WebOnly):
    wrapped = "django.middleware.common.CommonMiddleware"


class CsrfViewMiddleware(_WebOnly):
    wrapped = "django.middleware.csrf.CsrfViewMiddleware"


class AuthenticationMiddleware(_WebOnly):
    wrapped = "django.contrib.auth.middleware.AuthenticationMiddleware"


class MessageMiddleware(_WebOnly):
    wrapped = "django.contrib.messages.middleware.MessageMiddleware"


class XFrameOptionsMiddleware(_WebOnly):
    wrapped = "django.middleware.clickjacking.XFrameOptionsMiddleware"


class RegistryFaultMiddleware:
    """The net under the /v2 views' own checks: input that reaches the database or a
    conversion out of range is the client's fault, answered as an OCI 400, not a 500. The
    Host is checked here too (CommonMiddleware, which checks it elsewhere, skips /v2)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_registry_path(request.path_info):
            request.get_host()  # DisallowedHost: a 400 (handler400)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_registry_path(request.path_info):
            return None
        if not isinstance(exception, DataError | OverflowError | RecursionError):
            return None
        logger.warning("bad input on %s: %s", request.path_info, exception)
        return oci_error(400, "UNSUPPORTED", "a value in the request is out of range or invalid")
