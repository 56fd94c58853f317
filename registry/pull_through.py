"""The hook of proxy-cache projects at the /v2 gate.

A project bound to a registry endpoint (`Project.registry_id`) is a pull-through cache.
The app that implements it (`proxy_cache`) sits above `registry` and registers a handler
here when it loads, as the pull policies do (`registry.pull_policy`); the gate hands it
the manifest GET/HEAD, blob HEAD and blob GET misses of such projects. Without a handler
a proxy-cache project serves only what it holds.
"""

from __future__ import annotations

from typing import Protocol

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from projects.models import Project

PROXY_PUSH_REFUSED = "can not push artifact to a proxy project: {}"  # Harbor's words


class Handler(Protocol):
    def manifest(
        self, request: HttpRequest, project: Project, name: str, reference: str, subject: str
    ) -> HttpResponse: ...

    def blob(
        self, request: HttpRequest, project: Project, name: str, digest: str
    ) -> HttpResponseBase: ...

    def stored(
        self, request: HttpRequest, project: Project, name: str, digest: str
    ) -> HttpResponseBase: ...


_handler: list[Handler] = []


def register(handler: Handler) -> None:
    _handler[:] = [handler]


def handler() -> Handler | None:
    return _handler[0] if _handler else None
