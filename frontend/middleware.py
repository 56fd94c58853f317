"""Language selection for the web UI only."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

# Machine clients (registry, API, token service) get no per-request language work and no
# Vary: Accept-Language on their responses.
MACHINE_PREFIXES = ("/v2", "/api/", "/service/")


class UiLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware (the switcher's cookie, then Accept-Language), skipped
    for the registry, the API and the token service."""

    def process_request(self, request: HttpRequest) -> None:
        if request.path.startswith(MACHINE_PREFIXES):
            # The thread may have served a UI page in another language before.
            translation.activate(settings.LANGUAGE_CODE)
            return
        super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path.startswith(MACHINE_PREFIXES):
            return response
        return super().process_response(request, response)


# The UI's scripts and styles are its own files (frontend/static, vendored htmx): nothing
# inline, nothing from elsewhere. Label colours are set by app.js through the CSSOM.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# The API browser (drf-spectacular's Swagger UI page) runs inline scripts of its own.
CSP_EXEMPT = ("/devcenter-api-2.0",)


class ContentSecurityPolicyMiddleware:
    # Machine paths get no policy (see __call__): harbor_py.wsgi's registry handler leaves
    # this class out (harbor_py.middleware.SKIPPED_ON_REGISTRY_PATHS).
    skipped_on_registry_paths = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith(MACHINE_PREFIXES + CSP_EXEMPT):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response
