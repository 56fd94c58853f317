"""What every UI view shares: sign-in and sysadmin gates, Harbor errors shown as pages or
messages, pagination."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from frontend.forms import refusal_text
from frontend.middleware import MACHINE_PREFIXES
from frontend.refusals import TITLES
from harbor_py.api.errors import not_found_view
from harbor_py.core.errors import DomainError
from harbor_py.core.http import status_of

View = Callable[..., HttpResponse]
PAGE_SIZE = 15
PAGE_SIZES = (15, 50, 100)


def error_page(
    request: HttpRequest, status: int, message: str, title: str | None = None
) -> HttpResponse:
    titles = {
        401: _("Sign-in required"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Conflict"),
        410: _("Gone"),
        412: _("Not possible now"),
    }
    title = title or titles.get(status, _("Error"))
    context = {"status": status, "title": title, "message": message}
    return render(request, "frontend/error.html", context, status=status)


def refusal_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    """A domain error as the UI shows it: the status the API gives it, a title by code."""
    return error_page(request, status_of(exc), refusal_text(exc), str(TITLES[exc.code]))


def signed_in(view: View) -> View:
    """Sign-in required; a DomainError from a selector or service becomes an error page
    with its status and title (a project the caller may not see is a 404, as in the API)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return refusal_page(request, exc)

    return wrapper


def sysadmin_only(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_superuser:
            return error_page(request, 403, _("Only system administrators may open this page."))
        return view(request, *args, **kwargs)

    return signed_in(wrapper)


def attempt(request: HttpRequest, action: Callable[..., Any], /, **kwargs: Any) -> bool:
    """Run a service call; a refusal becomes an error message on the next page."""
    try:
        action(**kwargs)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return False
    return True


def page_of(
    request: HttpRequest,
    rows: QuerySet[Any] | list[Any],
    count: Callable[[Any], int] | None = None,
) -> Page:
    """?page= and ?page_size= (15, 50 or 100); out-of-range pages show the last one.
    `count` replaces COUNT(*) where the selector bounds its cost (the audit log)."""
    raw_size = request.GET.get("page_size", "")
    size = int(raw_size) if raw_size.isdigit() and int(raw_size) in PAGE_SIZES else PAGE_SIZE
    paginator = Paginator(rows, size)
    if count is not None:
        paginator.__dict__["count"] = count(rows)  # Paginator.count is a cached_property
    return paginator.get_page(request.GET.get("page"))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: Harbor's JSON error for machine clients (the API, /v2, the
    token service), a page of the UI for everything else."""
    if request.path.startswith(MACHINE_PREFIXES) or request.path.startswith("/c/"):
        return not_found_view(request, exception)
    return error_page(request, 404, _("There is no page at this address."))
