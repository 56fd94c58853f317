"""The UI's session endpoints, as Harbor's: POST /c/login (form fields principal and
password) and POST /c/log_out. Both are CSRF-protected (Django's middleware). Logins are
audited in accounts.login; a logout is audited here, in the transaction that ends the
session."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from accounts.login import LoginThrottled
from accounts.login_errors import LoginRefused
from audit.services import record
from harbor_py.api.errors import error_body
from harbor_py.core.http import client_address


@require_POST
def session_login(request: HttpRequest) -> HttpResponse:
    username = request.POST.get("principal", "")
    password = request.POST.get("password", "")
    try:
        user = authenticate(request, username=username, password=password)
    except LoginThrottled as exc:
        return JsonResponse(error_body("TOO_MANY_REQUESTS", str(exc)), status=429)
    except LoginRefused as exc:
        return JsonResponse(error_body(exc.code, str(exc)), status=exc.status)
    if user is None:
        return JsonResponse(error_body("UNAUTHORIZED", "invalid username or password"), status=401)
    login(request, user)
    return HttpResponse(status=200)


@require_POST
@transaction.atomic
def session_logout(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_authenticated:
        record(
            username=user.username,
            operation="logout",
            resource_type="user",
            resource=user.username,
            client_address=client_address(request),
        )
    logout(request)
    return HttpResponse(status=200)
