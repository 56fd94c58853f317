"""Which registry endpoints a proxy-cache project may be bound to.

A project created with Harbor's `registry_id` is a pull-through cache of that endpoint.
Endpoints belong to replication, above this app, so the app that implements the proxy
cache (`proxy_cache`) registers the check when it loads; without one, `registry_id` is
refused.
"""

from __future__ import annotations

from collections.abc import Callable

from harbor_py.core.errors import bad_request

# Raises a DomainError when the endpoint cannot back a proxy-cache project.
EndpointCheck = Callable[[int], None]
_check: list[EndpointCheck] = []


def register(check: EndpointCheck) -> None:
    _check[:] = [check]


def check(registry_id: int) -> None:
    if not _check:
        raise bad_request("proxy-cache projects are not available")
    _check[0](registry_id)
