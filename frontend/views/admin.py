"""System administration: users, user groups, system configuration (with the LDAP
connection test) and the audit log. Sysadmins only, as the API's endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import group_services, ldap_tools, oidc_provider, selectors, services
from accounts.ldap_settings import SettingsError, with_overrides
from audit import selectors as audit_selectors
from frontend.forms import GroupForm, ResetPasswordForm, SystemConfigForm, UserForm, refuse
from frontend.refusals import InWords
from frontend.views.base import attempt, page_of, sysadmin_only
from frontend.views.projects import audit_query, confirm, confirm_then_delete
from harbor_py.configuration_updates import update_configurations
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError


def _render(request: HttpRequest, template: str, section: str, **context: Any) -> HttpResponse:
    status = context.pop("status", 200)
    return render(request, template, {"section": section, **context}, status=status)


@sysadmin_only
def users(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    form = UserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.create_user(**form.cleaned_data, actor=Actor.of_request(request))
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": created.username})
            return redirect("ui:users")
    page = page_of(request, selectors.list_users(username=search or None))
    status = 400 if form.errors else 200
    return _render(
        request, "frontend/users.html", "users", page=page, form=form, q=search, status=status
    )


def _user(user_id: int):  # noqa: ANN202
    user = selectors.find_user(user_id)
    if user is None:
        raise InWords(Code.NOT_FOUND, _("This user does not exist."))
    return user


@require_POST
@sysadmin_only
def user_sysadmin(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user(user_id)
    attempt(
        request,
        services.set_sysadmin,
        user=user,
        sysadmin=request.POST.get("sysadmin") == "true",
        actor=Actor.of_request(request),
    )
    return redirect("ui:users")


@sysadmin_only
def user_password(request: HttpRequest, user_id: int) -> HttpResponse:
    user = selectors.modifiable_user(request.user, user_id)  # local accounts only
    form = ResetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_password(
                user=user,
                new_password=form.cleaned_data["new_password"],
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(form, exc, "new_password")
        else:
            messages.success(request, _("Password of %(name)s changed.") % {"name": user.username})
            return redirect("ui:users")
    return _render(request, "frontend/user_password.html", "users", target=user, form=form)


@sysadmin_only
def user_delete(request: HttpRequest, user_id: int) -> HttpResponse:
    user = _user(user_id)
    if request.method == "POST":
        if attempt(request, services.delete_user, user=user, actor=Actor.of_request(request)):
            messages.success(request, _("User %(name)s deleted.") % {"name": user.username})
        return redirect("ui:users")
    return confirm(
        request,
        _("Delete user %(name)s?") % {"name": user.username},
        cancel="/admin/users",
        detail=_("The user loses every project membership."),
    )


@sysadmin_only
def groups(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group_services.create_group(**form.cleaned_data, actor=Actor.of_request(request))
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("Group created."))
            return redirect("ui:groups")
    page = page_of(request, selectors.list_groups(group_name=search or None))
    status = 400 if form.errors else 200
    return _render(
        request, "frontend/groups.html", "groups", page=page, form=form, q=search, status=status
    )


@sysadmin_only
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    group = selectors.find_group(group_id)
    if group is None:
        raise InWords(Code.NOT_FOUND, _("This group does not exist."))
    return confirm_then_delete(
        request,
        group_services.delete_group,
        group=group,
        question=_("Delete group %(name)s?") % {"name": group.group_name},
        cancel="/admin/groups",
        done="ui:groups",
        detail=_("Its project memberships go with it."),
    )


def _config_changes(form: SystemConfigForm, saved: dict[str, Any]) -> dict[str, Any]:
    """Only what the admin changed (an empty password keeps the saved one)."""
    changes = {k: v for k, v in form.cleaned_data.items() if saved.get(k) != v}
    for secret in ("ldap_search_password", "oidc_client_secret"):
        if not changes.get(secret):
            changes.pop(secret, None)
    return changes


@sysadmin_only
def system_configuration(request: HttpRequest) -> HttpResponse:
    values = configuration.snapshot()
    form = SystemConfigForm(request.POST or None, initial=values)
    ping: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        changes = _config_changes(form, values)
        if "test_ldap" in request.POST:
            ping = _ping_ldap({k: v for k, v in changes.items() if k in form.LDAP_PING_FIELDS})
        elif "test_oidc" in request.POST:
            ping = _ping_oidc(form.cleaned_data)
        elif not changes:
            messages.info(request, _("Nothing changed."))
        else:
            try:
                update_configurations(
                    changes=changes,
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                messages.success(request, _("Configuration saved."))
                return redirect("ui:configuration")
    status = 400 if form.errors else 200
    return _render(
        request,
        "frontend/configuration.html",
        "configuration",
        form=form,
        ping=ping,
        redirect_uri=request.build_absolute_uri(reverse("ui:oidc-callback")),
        status=status,
    )


def _ping_ldap(fields: dict[str, Any]) -> dict[str, Any]:
    """POST /ldap/ping's check: the form's LDAP fields over the saved settings."""
    try:
        config = with_overrides(ldap_tools.saved_settings(), fields)
    except (SettingsError, DomainError) as exc:
        return {"success": False, "message": str(getattr(exc, "detail", exc))}
    result = ldap_tools.ping(config)
    return {"success": result.success, "message": result.message}


def _ping_oidc(fields: dict[str, Any]) -> dict[str, Any]:
    """POST /system/oidc/ping's check on the form's endpoint."""
    try:
        oidc_provider.ping(fields["oidc_endpoint"], verify=fields["oidc_verify_cert"])
    except oidc_provider.ProviderError as exc:
        return {"success": False, "message": str(exc)}
    return {"success": True, "message": ""}


def _date_terms(request: HttpRequest, filters: dict[str, str]) -> str:
    """op_time=[from~to] from the date inputs (whole days, UTC)."""
    start, end = request.GET.get("from", ""), request.GET.get("to", "")
    filters.update({"from": start, "to": end})
    try:
        low = dt.date.fromisoformat(start) if start else None
        high = dt.date.fromisoformat(end) + dt.timedelta(days=1) if end else None
    except ValueError:
        return ""
    if not (low or high):
        return ""
    return f"op_time=[{low or '2000-01-01'}~{high or '9999-12-31'}]"


@sysadmin_only
def audit_log(request: HttpRequest) -> HttpResponse:
    q, filters = audit_query(request)
    dates = _date_terms(request, filters)
    query = ",".join(term for term in (q, dates) if term) or None
    entries = audit_selectors.visible_entries(request.user, q=query, sort=None)
    page = page_of(request, entries, count=audit_selectors.count_entries)
    return _render(request, "frontend/audit.html", "audit", page=page, filters=filters)
