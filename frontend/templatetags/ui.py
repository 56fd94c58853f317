"""Small template helpers of the web UI."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

register = template.Library()


@register.simple_tag
def query_with(request: HttpRequest, **changes: object) -> str:
    """The current query string with some parameters replaced (pagers, filters)."""
    params = request.GET.copy()
    for key, value in changes.items():
        params[key] = str(value)
    return params.urlencode()


@register.filter
def short_digest(digest: str) -> str:
    """sha256:0123456789ab… as Harbor shows digests in lists."""
    return digest[:19] if digest else ""


@register.simple_tag
def page_sizes() -> tuple[int, ...]:
    from frontend.views.base import PAGE_SIZES

    return PAGE_SIZES


@register.filter
def repository_url(repository: object) -> str:
    from frontend.links import repository_url as url

    return url(repository)  # type: ignore[arg-type]


@register.filter
def artifact_url(artifact: object) -> str:
    from frontend.links import artifact_url as url

    return url(artifact)  # type: ignore[arg-type]


@register.filter
def css_color(value: str) -> str:
    """A label colour for a style attribute, or '' (rows saved before colours were
    validated may hold anything)."""
    from registry.label_services import is_color

    return value if value and is_color(value) else ""
