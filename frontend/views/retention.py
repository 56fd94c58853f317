"""A project's tag retention tab: the policy's rules, schedule and option, dry run and run,
and the history of runs with what each deleted and kept and why (the task logs). The
checks are those of /retentions (`tag-retention` in the project)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend.forms import refusal_text, refuse
from frontend.refusals import InWords
from frontend.retention_forms import (
    RetentionRuleForm,
    RetentionSettingsForm,
    includes_untagged,
    rule_words,
    unshown_selectors,
)
from frontend.retention_log import retention_log
from frontend.views.base import attempt, is_htmx, page_of, signed_in
from frontend.views.projects import confirm, render_tab
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from jobs.models import FINAL
from projects.selectors import ProjectAccess, require_access_by_name
from retention import selectors, services
from retention.models import RetentionPolicy

RESOURCE = "tag-retention"


def _data(policy: RetentionPolicy | None, **changes: Any) -> dict[str, Any]:
    """The policy's body as the API takes it, with `changes`."""
    data: dict[str, Any] = {
        "rules": list(policy.rules) if policy else [],
        "trigger": policy.trigger if policy else {},
        "untag_only": policy.untag_only if policy else False,
    }
    data.update(changes)
    return data  # services derive the algorithm from untag_only


def _save(
    access: ProjectAccess, policy: RetentionPolicy | None, actor: Actor, **changes: Any
) -> None:
    if policy is None:
        services.create_policy(project=access.project, data=_data(None, **changes), actor=actor)
    else:
        services.update_policy(policy=policy, data=_data(policy, **changes), actor=actor)


def _page(
    request: HttpRequest,
    access: ProjectAccess,
    *,
    rule_form: RetentionRuleForm | None = None,
    settings_form: RetentionSettingsForm | None = None,
) -> HttpResponse:
    policy = selectors.policy_of_project(access.project.pk)
    editable = access.can(RESOURCE, "update" if policy else "create")
    rules = [
        {
            "index": rule["id"],
            "rule": rule,
            "text": rule_words(rule),
            "untagged": includes_untagged(rule),
        }
        for rule in (policy.rules if policy else [])
    ]
    if settings_form is None and editable:
        cron = (policy.trigger.get("settings") or {}).get("cron", "") if policy else ""
        untag_only = policy.untag_only if policy else False
        settings_form = RetentionSettingsForm(
            initial=RetentionSettingsForm.initial_of(cron, untag_only)
        )
    refused = any(f is not None and f.errors for f in (rule_form, settings_form))
    return render_tab(
        request,
        access,
        "retention",
        "frontend/project_retention.html",
        status=400 if refused else 200,
        policy=policy,
        rules=rules,
        rule_form=rule_form or (RetentionRuleForm() if editable else None),
        settings_form=settings_form,
        can_run=policy is not None and access.can(RESOURCE, "operate"),
        page=page_of(request, selectors.executions(policy)) if policy else None,
    )


@signed_in
def retention_tab(request: HttpRequest, name: str) -> HttpResponse:
    return _page(request, require_access_by_name(request.user, name, RESOURCE, "list"))


def _editing(request: HttpRequest, name: str) -> tuple[ProjectAccess, RetentionPolicy | None]:
    access = require_access_by_name(request.user, name, RESOURCE, "read")
    policy = selectors.policy_of_project(access.project.pk)
    access = require_access_by_name(request.user, name, RESOURCE, "update" if policy else "create")
    return access, policy


def _saved(
    request: HttpRequest,
    access: ProjectAccess,
    policy: RetentionPolicy | None,
    form: forms.Form,
    done: str,
    field: str | None = None,
    **changes: Any,
) -> bool:
    """Save `changes` into the project's policy; a refusal goes onto `form`."""
    try:
        _save(access, policy, Actor.of_request(request), **changes)
    except DomainError as exc:
        refuse(form, exc, field)
        return False
    messages.success(request, done)
    return True


@require_POST
@signed_in
def rule_add(request: HttpRequest, name: str) -> HttpResponse:
    access, policy = _editing(request, name)
    form = RetentionRuleForm(request.POST)
    if form.is_valid():
        rules = [*(policy.rules if policy else []), form.rule_data()]
        if _saved(request, access, policy, form, _("Retention rule added."), rules=rules):
            return redirect("ui:project-retention", name=name)
    return _page(request, access, rule_form=form)


def _with_rule(
    request: HttpRequest, name: str, index: int
) -> tuple[ProjectAccess, RetentionPolicy]:
    access, policy = _editing(request, name)
    if policy is None or not any(r["id"] == index for r in policy.rules):
        raise InWords(Code.NOT_FOUND, _("This retention rule does not exist."))
    return access, policy


@signed_in
def rule_edit(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Harbor's Edit of a rule: the rule form prefilled; saving replaces the rule in place
    (its position, disabled state and the selectors the form does not show stay)."""
    access, policy = _with_rule(request, name, index)
    rule = next(r for r in policy.rules if r["id"] == index)
    form = RetentionRuleForm(request.POST or None, initial=RetentionRuleForm.initial_of(rule))
    if request.method == "POST" and form.is_valid():
        edited = {**form.rule_data(editing=rule), "id": index}
        rules = [edited if r["id"] == index else r for r in policy.rules]
        if _saved(request, access, policy, form, _("Retention rule saved."), rules=rules):
            return redirect("ui:project-retention", name=name)
    unshown_tags, unshown_repositories = unshown_selectors(rule)
    return render_tab(
        request,
        access,
        "retention",
        "frontend/retention_rule.html",
        status=400 if form.errors else 200,
        index=index,
        rule=rule,
        rule_form=form,
        unshown=[*unshown_repositories, *unshown_tags],
    )


@signed_in
def rule_delete(request: HttpRequest, name: str, index: int) -> HttpResponse:
    access, policy = _with_rule(request, name, index)
    if request.method != "POST":
        cancel = f"/projects/{name}/retention"
        return confirm(
            request, _("Delete retention rule %(index)s?") % {"index": index}, cancel=cancel
        )
    rules = [r for r in policy.rules if r["id"] != index]
    if attempt(
        request, _save, access=access, policy=policy, actor=Actor.of_request(request), rules=rules
    ):
        messages.success(request, _("Retention rule deleted."))
    return redirect("ui:project-retention", name=name)


@require_POST
@signed_in
def rule_toggle(request: HttpRequest, name: str, index: int) -> HttpResponse:
    """Harbor's Disable / Enable of a rule: a run skips a disabled rule, which stays."""
    access, policy = _with_rule(request, name, index)
    disabling = not next(r for r in policy.rules if r["id"] == index).get("disabled")
    rules = [{**r, "disabled": disabling} if r["id"] == index else r for r in policy.rules]
    if attempt(
        request, _save, access=access, policy=policy, actor=Actor.of_request(request), rules=rules
    ):
        done = _("Retention rule disabled.") if disabling else _("Retention rule enabled.")
        messages.success(request, done)
    return redirect("ui:project-retention", name=name)


@require_POST
@signed_in
def settings_save(request: HttpRequest, name: str) -> HttpResponse:
    access, policy = _editing(request, name)
    form = RetentionSettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        trigger = {"kind": "Schedule", "settings": {"cron": form.schedule_cron()}, "references": {}}
        done = _("Retention settings saved.")
        untag_only = data["untag_only"]
        if _saved(
            request, access, policy, form, done, "cron", trigger=trigger, untag_only=untag_only
        ):
            return redirect("ui:project-retention", name=name)
    return _page(request, access, settings_form=form)


@signed_in
def run(request: HttpRequest, name: str) -> HttpResponse:
    """A dry run at once; a real run deletes, so its button asks first (GET: Harbor's
    "Run now" confirmation; the confirmation POSTs back)."""
    access = require_access_by_name(request.user, name, RESOURCE, "operate")
    policy = selectors.policy_of_project(access.project.pk)
    if policy is None:
        raise InWords(Code.NOT_FOUND, _("This project has no retention policy."))
    if request.method != "POST":
        return confirm(
            request,
            _("Run the tag retention of %(project)s now?") % {"project": name},
            cancel=f"/projects/{name}/retention",
            detail=_(
                "Every artifact of the repositories the rules select that no rule retains "
                "is deleted. A dry run shows what would be deleted first."
            ),
            action=_("Yes, run now"),
        )
    dry_run = request.POST.get("dry_run") == "true"
    try:
        execution = services.start(policy=policy, dry_run=dry_run, actor=Actor.of_request(request))
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect("ui:project-retention", name=name)
    return redirect("ui:retention-execution", name=name, execution_id=execution.pk)


@signed_in
def execution(request: HttpRequest, name: str, execution_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, RESOURCE, "read")
    policy = selectors.policy_of_project(access.project.pk)
    found = selectors.find_execution(policy, execution_id) if policy else None
    if found is None or policy is None:
        raise InWords(Code.NOT_FOUND, _("This retention run does not exist."))
    if request.method == "POST":
        access = require_access_by_name(request.user, name, RESOURCE, "operate")
        if attempt(request, services.stop, execution=found, actor=Actor.of_request(request)):
            messages.success(request, _("Stop requested."))
        return redirect("ui:retention-execution", name=name, execution_id=execution_id)
    # while it runs, htmx asks for the panel every 2 s (the page without script: a refresh)
    template = "_retention_progress" if is_htmx(request) else "retention_execution"
    return render_tab(
        request,
        access,
        "retention",
        f"frontend/{template}.html",
        execution=found,
        running=found.status not in FINAL,
        can_stop=access.can(RESOURCE, "operate"),
        summary=retention_log(*selectors.controller_log(found)),
        tasks=[(task, retention_log(task.log, task.records)) for task in selectors.tasks(found)],
    )
