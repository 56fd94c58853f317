"""A project's configuration tab: its settings, its storage quota (sysadmins change the
limit), its tag immutability rules, and deleting the project."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend.control_forms import ImmutableRuleForm, QuotaForm
from frontend.forms import ProjectConfigForm, refuse
from frontend.refusals import InWords
from frontend.views import scanning
from frontend.views.base import attempt, signed_in
from frontend.views.projects import confirm, render_tab
from frontend.views.signatures import TrustedKeyForm, add_key, project_keys_context
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from immutable import selectors as rule_selectors
from immutable import services as rule_services
from immutable.models import ImmutableRule
from projects import selectors, services
from projects.selectors import ProjectAccess, require_access_by_name
from quotas import services as quota_services


def _metadata_initial(access: ProjectAccess) -> dict[str, Any]:
    project = access.project
    metadata = selectors.project_metadata(project)
    return {
        "public": project.public,
        "auto_scan": metadata.get("auto_scan") == "true",
        "prevent_vul": metadata.get("prevent_vul") == "true",
        "enable_content_trust_cosign": metadata.get("enable_content_trust_cosign") == "true",
        "enable_content_trust": metadata.get("enable_content_trust") == "true",
        "severity": metadata.get("severity", "none"),
    }


def _settings_page(
    request: HttpRequest,
    access: ProjectAccess,
    *,
    form: ProjectConfigForm | None = None,
    quota_form: QuotaForm | None = None,
    rule_form: ImmutableRuleForm | None = None,
    key_form: TrustedKeyForm | None = None,
) -> HttpResponse:
    """The tab, with whichever of its forms was just refused (400) shown with its errors."""
    project = access.project
    quota = quota_services.quota_of(project) if access.can("quota", "read") else None
    if quota is not None and request.user.is_superuser and quota_form is None:
        quota_form = QuotaForm(initial={"hard": quota.hard})
    can_list_rules = access.can("immutable-tag", "list")
    if rule_form is None and access.can("immutable-tag", "create"):
        rule_form = ImmutableRuleForm()
    refused = any(f is not None and f.errors for f in (form, quota_form, rule_form, key_form))
    deletable, _reason = selectors.deletable(project)
    return render_tab(
        request,
        access,
        "configuration",
        "frontend/project_configuration.html",
        status=400 if refused else 200,
        form=form or ProjectConfigForm(initial=_metadata_initial(access)),
        deletable=deletable,
        quota=quota,
        quota_enforced=configuration.get("quota_per_project_enable"),
        quota_form=quota_form,
        rules=list(rule_selectors.project_rules(project.pk)) if can_list_rules else None,
        rule_form=rule_form,
        **scanning.project_allowlist_context(access),
        **project_keys_context(project.pk, access.can("metadata", "create"), key_form),
        **scanning.project_scanner_context(access),
    )


@require_POST
@signed_in
def project_key_add(request: HttpRequest, name: str) -> HttpResponse:
    """A key trusted in the project; a refused one shows on the tab next to its fields."""
    access = require_access_by_name(request.user, name, "metadata", "create")
    refused = add_key(request, access.project)
    if refused is not None:
        return _settings_page(request, access, key_form=refused)
    return redirect("ui:project-configuration", name=name)


@signed_in
def configuration_tab(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "project", "read")
    if request.method != "POST":
        return _settings_page(request, access)
    access = require_access_by_name(request.user, name, "project", "update")
    initial = _metadata_initial(access)
    form = ProjectConfigForm(request.POST, initial=initial)
    if not form.is_valid():
        return _settings_page(request, access, form=form)
    data = form.cleaned_data
    changes = {key: "true" if data[key] else "false" for key in initial if key != "severity"}
    changes["severity"] = data["severity"] or "none"
    if attempt(
        request,
        services.update_project,
        project=access.project,
        metadata=changes,
        actor=Actor.of_request(request),
    ):
        messages.success(request, _("Configuration saved."))
    return redirect("ui:project-configuration", name=name)


@require_POST
@signed_in
def quota_update(request: HttpRequest, name: str) -> HttpResponse:
    """PUT /quotas/{id}'s rule: sysadmins only."""
    access = require_access_by_name(request.user, name, "project", "read")
    if not request.user.is_superuser:
        raise InWords(Code.FORBIDDEN, _("Only system administrators may change quotas."))
    form = QuotaForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, access, quota_form=form)
    try:
        quota_services.set_storage_limit(
            project=access.project, hard=form.cleaned_data["hard"], actor=Actor.of_request(request)
        )
    except DomainError as exc:
        refuse(form, exc, "hard")
        return _settings_page(request, access, quota_form=form)
    messages.success(request, _("Storage limit saved."))
    return redirect("ui:project-configuration", name=name)


@require_POST
@signed_in
def rule_create(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "immutable-tag", "create")
    form = ImmutableRuleForm(request.POST)
    if form.is_valid():
        try:
            rule_services.create_rule(
                project=access.project, data=form.rule_data(), actor=Actor.of_request(request)
            )
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("Immutability rule added."))
            return redirect("ui:project-configuration", name=name)
    return _settings_page(request, access, rule_form=form)


def _rule(access: ProjectAccess, rule_id: int) -> ImmutableRule:
    rule = rule_selectors.find_rule(access.project.pk, rule_id)
    if rule is None:
        raise InWords(Code.NOT_FOUND, _("This immutability rule does not exist."))
    return rule


@signed_in
def rule_edit(request: HttpRequest, name: str, rule_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "immutable-tag", "update")
    rule = _rule(access, rule_id)
    form = ImmutableRuleForm(request.POST or None, initial=ImmutableRuleForm.initial_of(rule))
    if request.method == "POST" and form.is_valid():
        try:
            rule_services.update_rule(
                project=access.project,
                rule=rule,
                data=form.rule_data(),
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("Immutability rule saved."))
            return redirect("ui:project-configuration", name=name)
    return render_tab(
        request,
        access,
        "configuration",
        "frontend/immutable_rule.html",
        status=400 if form.errors else 200,
        rule=rule,
        rule_form=form,
    )


@require_POST
@signed_in
def rule_toggle(request: HttpRequest, name: str, rule_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "immutable-tag", "update")
    rule = _rule(access, rule_id)
    if attempt(
        request,
        rule_services.update_rule,
        project=access.project,
        rule=rule,
        data={"disabled": not rule.disabled},
        actor=Actor.of_request(request),
    ):
        done = (
            _("Immutability rule disabled.") if rule.disabled else _("Immutability rule enabled.")
        )
        messages.success(request, done)
    return redirect("ui:project-configuration", name=name)


@signed_in
def rule_delete(request: HttpRequest, name: str, rule_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "immutable-tag", "delete")
    rule = _rule(access, rule_id)
    if request.method == "POST":
        if attempt(
            request,
            rule_services.delete_rule,
            project=access.project,
            rule=rule,
            actor=Actor.of_request(request),
        ):
            messages.success(request, _("Immutability rule deleted."))
        return redirect("ui:project-configuration", name=name)
    return confirm(
        request,
        _("Delete the immutability rule for tags %(tags)s?")
        % {"tags": ", ".join(selector["pattern"] for selector in rule.tag_selectors)},
        cancel=f"/projects/{name}/configuration",
        detail=_("The tags it protects can be moved and deleted again."),
    )


@signed_in
def project_delete(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "project", "delete")
    if request.method == "POST":
        if attempt(
            request,
            services.delete_project,
            project=access.project,
            actor=Actor.of_request(request),
        ):
            messages.success(request, _("Project %(name)s deleted.") % {"name": name})
            return redirect("ui:projects")
        return redirect("ui:project-configuration", name=name)
    return confirm(
        request,
        _("Delete project %(name)s?") % {"name": name},
        cancel=f"/projects/{name}/configuration",
        detail=_("A project that still holds repositories cannot be deleted."),
    )
