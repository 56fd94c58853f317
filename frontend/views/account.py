"""Sign in (local users or the directory, by auth mode), sign out, change password."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import oidc_auth, sessions
from accounts import services as user_services
from accounts.login import LoginThrottled
from accounts.login_errors import LoginRefused
from accounts.robots import person_of
from frontend import services as ui_services
from frontend.columns import TABLES
from frontend.forms import PasswordChangeForm, SignInForm, refuse
from frontend.refusals import InWords, worded
from frontend.views.base import signed_in
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError


def next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def sign_in(request: HttpRequest) -> HttpResponse:
    """The same check as /c/login (accounts.login: auth mode, LDAP, throttling, audit)."""
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = authenticate(request, username=data["principal"], password=data["password"])
        except LoginThrottled:
            form.add_error(None, _("Too many failed sign-ins. Try again in a few minutes."))
            status = 429
        except LoginRefused as exc:
            form.add_error(None, worded(exc).text)
            status = exc.status
        else:
            if user is not None:
                login(request, user)
                return redirect(next_url(request))
            form.add_error(None, _("Invalid username or password."))
            status = 401
    form.focus()
    context = {
        "form": form,
        "next": next_url(request),
        "ldap": configuration.get("auth_mode") == "ldap_auth",
        "oidc_name": configuration.get("oidc_name") or _("OIDC provider")
        if configuration.get("auth_mode") == "oidc_auth"
        else "",
    }
    return render(request, "frontend/sign_in.html", context, status=status)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Under OIDC with oidc_logout on, the provider's session ends too (RP-initiated
    logout), when the provider publishes an end_session_endpoint."""
    id_token = request.session.get(oidc_auth.TOKEN_KEY, "")
    sessions.sign_out(request, actor=Actor.of_request(request))  # as the API's /c/log_out
    if id_token and configuration.get("oidc_logout"):
        after = request.build_absolute_uri(reverse("ui:sign-in"))
        url = oidc_auth.end_session_url(id_token=id_token, after=after)
        if url:
            # Not a redirect: the form-action CSP would stop the form's answer going to
            # another origin. This page sends the browser on.
            name = configuration.get("oidc_name") or _("OIDC provider")
            return render(request, "frontend/oidc_signed_out.html", {"url": url, "name": name})
    return redirect("ui:sign-in")


@signed_in
def change_password(request: HttpRequest) -> HttpResponse:
    """Local accounts only: under LDAP only the local admin has a password here."""
    user = person_of(request)
    local = configuration.get("auth_mode") == "db_auth" or user_services.is_builtin_admin(user)
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and local:
        valid = form.is_valid()  # the current password is checked even when the rest fails
        data = form.cleaned_data
        if "old_password" in data and not user.check_password(data["old_password"]):
            form.add_error("old_password", _("The current password is incorrect."))
        elif valid:
            try:
                user_services.change_password(
                    user=user, new_password=data["new_password"], actor=Actor.of_request(request)
                )
            except DomainError as exc:
                refuse(form, exc, "new_password")
            else:
                update_session_auth_hash(request, user)
                context = {"done": True, "local": local}
                return render(request, "frontend/password.html", context)
    context = {"form": form, "local": local, "cli_secret": oidc_auth.cli_secret_of(user)}
    return render(request, "frontend/password.html", context)


@require_POST
@signed_in
def columns(request: HttpRequest, table: str) -> HttpResponse:
    """Save which columns of a large list the caller sees (the "Columns" menu)."""
    if table not in TABLES:
        raise InWords(Code.NOT_FOUND, _("There is no such list."))
    shown = set(request.POST.getlist("shown"))
    hidden = [key for key, _label in TABLES[table][1:] if key not in shown]
    ui_services.set_hidden_columns(user=person_of(request), table=table, hidden=hidden)
    return redirect(next_url(request))
