"""Language selection for the web UI only."""

from __future__ import annotations

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
