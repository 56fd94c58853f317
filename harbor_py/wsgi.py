"""gunicorn's WSGI application: Django's handler, with a leaner one for the registry paths.

Registry clients (`/v2/...`, `/service/token`: five requests per pushed image) go through
`RegistryHandler`, Django's own WSGI handler built with only the middleware that acts on
those paths (`harbor_py.middleware.registry_middleware`). Everything else goes through the
full chain. Both handlers run the same middleware classes and the same views: the lean one
only leaves out the layers that step aside on registry paths anyway (sessions, CSRF,
messages, ...), which still cost a call and an exception wrapper each (#31,
docs/architecture.md "The registry hot path")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest
from django.urls import ResolverMatch, get_resolver

from harbor_py.core import env

env.set_default("DJANGO_SETTINGS_MODULE", "harbor_py.settings")


class RegistryHandler(WSGIHandler):
    """Django's WSGI handler (request signals, URL resolution, exception handling, the
    handler400/404/500 views) over the registry paths' middleware chain, resolving with the
    registry paths' URL conf alone (harbor_py.registry_urls, which the site's includes):
    the same patterns and views, without the walk through the site's."""

    def load_middleware(self, is_async: bool = False) -> None:
        from harbor_py.middleware import registry_middleware

        with registry_middleware():
            super().load_middleware(is_async)
        self.resolver = get_resolver("harbor_py.registry_urls")

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        # Django's resolve_request with the registry's URL conf; nothing on this path sets
        # request.urlconf. A miss raises Resolver404, answered by the site's handler404.
        match = self.resolver.resolve(request.path_info)
        request.resolver_match = match
        return match


class Dispatcher:
    """Sends each request to the registry handler or to the web one, by its path."""

    def __init__(self, web: WSGIHandler, registry: WSGIHandler) -> None:
        from harbor_py.middleware import is_registry_path

        self.web, self.registry, self.is_registry_path = web, registry, is_registry_path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # PATH_INFO as the WSGI server gives it (latin-1 bytes of the raw path); the
        # registry prefixes are ASCII, so the test is the one Django's request makes.
        handler = self.registry if self.is_registry_path(environ.get("PATH_INFO", "")) else self.web
        return handler(environ, start_response)


application = Dispatcher(get_wsgi_application(), RegistryHandler())
