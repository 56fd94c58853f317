"""Sign-in through the OpenID provider (auth_mode oidc_auth), at Harbor's paths:
/c/oidc/login sends the browser to the provider, /c/oidc/callback takes it back,
/c/oidc/onboard asks a new user for a username (oidc_auto_onboard off). The profile's CLI
secret is shown on the account page (account.change_password) and regenerated here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import oidc_auth, oidc_services
from accounts.models import User
from accounts.oidc_auth import Pending, SignInRefused
from accounts.robots import person_of
from frontend.forms import refuse
from frontend.refusals import worded
from frontend.views.account import next_url
from frontend.views.base import signed_in
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import DomainError
from harbor_py.core.http import client_address

BACKEND = "accounts.backends.HarborBackend"


class OnboardForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=255)


def _refused(request: HttpRequest, message: str, status: int = 401) -> HttpResponse:
    context = {"message": message, "name": configuration.get("oidc_name")}
    return render(request, "frontend/oidc_refused.html", context, status=status)


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("ui:oidc-callback"))


def oidc_login(request: HttpRequest) -> HttpResponse:
    if configuration.get("auth_mode") != "oidc_auth":
        return _refused(request, _("Sign-in through an OIDC provider is not enabled."), 404)
    try:
        url = oidc_auth.begin(
            request.session, redirect_uri=_callback_uri(request), next_url=next_url(request)
        )
    except SignInRefused as exc:
        return _refused(request, worded(exc).text, 503)
    return redirect(url)


def oidc_callback(request: HttpRequest) -> HttpResponse:
    if configuration.get("auth_mode") != "oidc_auth":
        return _refused(request, _("Sign-in through an OIDC provider is not enabled."), 404)
    try:
        found, after = oidc_auth.complete(
            request.session,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            error=request.GET.get("error", ""),
            address=client_address(request),
        )
    except SignInRefused as exc:
        return _refused(request, worded(exc).text)
    except DomainError as exc:  # onboarding refused: the name is taken
        return _refused(request, worded(exc).text, 409)
    if isinstance(found, Pending):
        return redirect("ui:oidc-onboard")
    _sign_in(request, found)
    return redirect(after)


def _sign_in(request: HttpRequest, user: User) -> None:
    id_token = request.session.get(oidc_auth.TOKEN_KEY)
    login(request, user, backend=BACKEND)
    request.session[oidc_auth.TOKEN_KEY] = id_token  # kept for the provider's sign-out


def oidc_onboard(request: HttpRequest) -> HttpResponse:
    identity = oidc_auth.pending(request.session)
    if identity is None:
        return _refused(request, _("No OIDC sign-in is waiting for a username; sign in again."))
    form = OnboardForm(request.POST or None, initial={"username": identity.username})
    if request.method == "POST" and form.is_valid():
        try:
            user = oidc_auth.finish_onboarding(
                request.session,
                username=form.cleaned_data["username"],
                address=client_address(request),
            )
        except SignInRefused as exc:
            return _refused(request, worded(exc).text)
        except DomainError as exc:
            refuse(form, exc, "username")
        else:
            _sign_in(request, user)
            return redirect("ui:dashboard")
    status = 400 if form.errors else 200
    return render(request, "frontend/oidc_onboard.html", {"form": form}, status=status)


@require_POST
@signed_in
def regenerate_cli_secret(request: HttpRequest) -> HttpResponse:
    oidc_services.set_cli_secret(
        user=person_of(request),
        secret=oidc_services.generate_secret(),
        actor=Actor.of_request(request),
    )
    messages.success(request, _("A new CLI secret was generated; the old one no longer works."))
    return redirect("ui:password")
