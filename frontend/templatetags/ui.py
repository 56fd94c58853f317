"""Small template helpers of the web UI."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from frontend.sizes import size

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

    return url(repository)  # type: ignore[arg-type]  # templates pass a Repository


@register.filter
def artifact_url(artifact: object) -> str:
    from frontend.links import artifact_url as url

    return url(artifact)  # type: ignore[arg-type]  # templates pass an Artifact


@register.filter
def iso_time(value: object) -> object:
    """An ISO 8601 string from an image config ("created") as a datetime, for `date`;
    anything else unchanged."""
    from django.utils.dateparse import parse_datetime

    if isinstance(value, str):
        try:
            return parse_datetime(value) or value
        except ValueError:
            return value
    return value


register.filter("size", size)


@register.filter(name="label")
def label_of(value: object) -> str:
    """A stored value (status, trigger, operation, type) in the page's language."""
    from frontend.labels import label

    return label(value)


@register.filter
def css_color(value: str) -> str:
    """A label colour for a style attribute, or '' (rows saved before colours were
    validated may hold anything)."""
    from registry.label_services import is_color

    return value if value and is_color(value) else ""


def _hidden(request: HttpRequest, table: str) -> list[str]:
    """The caller's hidden columns of `table`, read once per request."""
    from frontend.selectors import hidden_columns

    cache = request.__dict__.setdefault("_hidden_columns", {})
    if table not in cache:
        user = request.user
        cache[table] = hidden_columns(user, table) if user.is_authenticated else []
    return cache[table]


@register.simple_tag(takes_context=True)
def hidden_column_classes(context: template.Context, table: str) -> str:
    """`hide-col-N` classes for the table's hidden columns (app.css hides them)."""
    from frontend.columns import TABLES

    hidden = _hidden(context["request"], table)
    keys = [key for key, _label in TABLES[table]]
    return " ".join(f"hide-col-{keys.index(key) + 1}" for key in hidden if key in keys)


@register.inclusion_tag("frontend/_columns.html", takes_context=True)
def columns_menu(context: template.Context, table: str) -> dict[str, object]:
    """The "Columns" menu above a large list: a form that works without script."""
    from frontend.columns import TABLES

    request = context["request"]
    hidden = _hidden(request, table)
    columns = [(key, label, key not in hidden) for key, label in TABLES[table][1:]]
    return {
        "table": table,
        "columns": columns,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
        "signed_in": request.user.is_authenticated,
    }
