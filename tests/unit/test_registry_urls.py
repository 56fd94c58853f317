"""The registry paths' routes (harbor_py.registry_urls, registry/v2_urls.py): the order of the
patterns puts the hot ones first, and the registry paths' handler resolves with this URL
conf alone (#31). Neither may change where a path goes, except where the old order was
wrong."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, URLResolver, get_resolver

from accounts.api.views import registry_token
from harbor_py.middleware import is_registry_path
from registry import v2_views

DIGEST = "sha256:" + "a" * 64

ROUTES = [
    ("/service/token", registry_token, {}),
    ("/v2/", v2_views.base, {}),
    ("/v2/_catalog", v2_views.catalog, {}),
    (f"/v2/p/app/blobs/{DIGEST}", v2_views.blob_head, {"name": "p/app", "digest": DIGEST}),
    ("/v2/p/app/manifests/v1", v2_views.manifest, {"name": "p/app", "reference": "v1"}),
    ("/v2/p/app/tags/list", v2_views.tags_list, {"name": "p/app"}),
    (f"/v2/p/app/referrers/{DIGEST}", v2_views.referrers, {"name": "p/app", "digest": DIGEST}),
    ("/v2/p/app/blobs/uploads/", v2_views.blob_upload, {"name": "p/app", "rest": ""}),
    ("/v2/p/app/blobs/uploads/u-1", v2_views.blob_upload, {"name": "p/app", "rest": "u-1"}),
    # a repository whose name holds a route's words: the route at the end of the path wins
    ("/v2/p/manifests/x/tags/list", v2_views.tags_list, {"name": "p/manifests/x"}),
    ("/v2/p/blobs/uploads/x/tags/list", v2_views.tags_list, {"name": "p/blobs/uploads/x"}),
    (
        "/v2/p/blobs/uploads/x/manifests/v1",
        v2_views.manifest,
        {"name": "p/blobs/uploads/x", "reference": "v1"},
    ),
    (
        f"/v2/p/blobs/uploads/x/referrers/{DIGEST}",
        v2_views.referrers,
        {"name": "p/blobs/uploads/x", "digest": DIGEST},
    ),
    # before #31 the upload route, tried first, took this blob of repository p/blobs/uploads
    (
        f"/v2/p/blobs/uploads/blobs/{DIGEST}",
        v2_views.blob_head,
        {"name": "p/blobs/uploads", "digest": DIGEST},
    ),
]


def _takes(pattern, path: str) -> bool:
    """Whether a pattern of the site's URL conf resolves the path (as Django's root resolver
    hands it down: without the leading slash)."""
    try:
        return pattern.resolve(path.lstrip("/")) is not None
    except Resolver404:
        return False


def _unwrapped(view):
    return getattr(view, "__wrapped__", view)


@pytest.mark.parametrize(("path", "view", "kwargs"), ROUTES, ids=[r[0] for r in ROUTES])
def test_each_registry_path_goes_to_its_view(path, view, kwargs):
    for resolver in (get_resolver(), get_resolver("harbor_py.registry_urls")):
        match = resolver.resolve(path)
        assert _unwrapped(match.func) is _unwrapped(view), (resolver, path)
        assert match.kwargs == kwargs


@pytest.mark.parametrize("path", [r[0] for r in ROUTES])
def test_the_registry_handler_resolves_as_the_site_does(path):
    """Same view, same route (the metrics label), same arguments."""
    site = get_resolver().resolve(path)
    registry = get_resolver("harbor_py.registry_urls").resolve(path)
    assert (site.func, site.route, site.kwargs) == (registry.func, registry.route, registry.kwargs)


def test_no_other_route_of_the_site_takes_a_registry_path():
    """The registry paths' handler resolves with the registry's URL conf alone: a registry
    path that no registry pattern takes must be a 404 on the site's URL conf too."""
    registry = get_resolver("harbor_py.registry_urls")
    others = [
        pattern
        for pattern in get_resolver().url_patterns
        if not (
            isinstance(pattern, URLResolver)
            and getattr(pattern.urlconf_module, "__name__", "") == "harbor_py.registry_urls"
        )
    ]
    paths = [r[0] for r in ROUTES] + ["/v2", "/v2/p", "/v2/p/app/blobs", "/service/tokens"]
    for path in paths:
        assert is_registry_path(path)
        assert not [pattern for pattern in others if _takes(pattern, path)], path
        if path in ("/v2", "/v2/p", "/v2/p/app/blobs", "/service/tokens"):
            with pytest.raises(Resolver404):
                registry.resolve(path)
