"""Garbage collection (run now, dry run, schedule, history, logs, progress) and
replication (registries, rules, executions, tasks, logs). Sysadmins only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend import job_log
from frontend.forms import GcRunForm, PolicyForm, RegistryForm, ScheduleForm, refusal_text, refuse
from frontend.refusals import InWords
from frontend.views.base import attempt, is_htmx, page_of, sysadmin_only
from frontend.views.projects import confirm_then_delete
from harbor_gc.collector import check_parameters
from harbor_gc.selectors import job_parameters
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from jobs import services as job_services
from jobs.models import FINAL, Execution, Schedule
from proxy_cache.selectors import upstream_health
from replication import filters, selectors, services
from replication.adapters.base import TransferError, open_adapter
from replication.models import RegistryEndpoint, ReplicationPolicy

GC = "GARBAGE_COLLECTION"


def _log(execution: Execution) -> str:
    """The run's log in the page's language (from its tasks' structured records)."""
    tasks = list(execution.tasks.order_by("pk").only("log", "records"))
    return job_log.translated("".join(t.log for t in tasks), "".join(t.records for t in tasks))


def _progress(execution: Execution) -> int | None:
    """The percentage a running GC reported (`JobContext.progress`), None before it has."""
    task = execution.tasks.order_by("pk").first()
    return task.extra_attrs.get("progress") if task is not None else None


@sysadmin_only
def gc(request: HttpRequest) -> HttpResponse:
    run_form = GcRunForm(request.POST if "run" in request.POST else None)
    schedule = Schedule.objects.filter(vendor_type=GC).first()
    initial = {
        "type": schedule.type if schedule else "None",
        "cron": schedule.cron if schedule else "",
    }
    schedule_form = ScheduleForm(
        request.POST if "schedule" in request.POST else None, initial=initial
    )
    if run_form.is_bound and run_form.is_valid():
        try:
            execution = job_services.start_execution(
                vendor_type=GC,
                parameters=check_parameters(run_form.cleaned_data),
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(run_form, exc)
        else:
            return redirect("ui:gc-execution", execution_id=execution.pk)
    if schedule_form.is_bound and schedule_form.is_valid():
        data = schedule_form.cleaned_data
        try:
            job_services.set_schedule(
                vendor_type=GC,
                type_=data["type"],
                cron=data["cron"],
                parameters=schedule.parameters if schedule else {},
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(schedule_form, exc, "cron")
        else:
            messages.success(request, _("Schedule saved."))
            return redirect("ui:gc")
    page = page_of(request, Execution.objects.filter(vendor_type=GC).order_by("-start_time"))
    for execution in page.object_list:
        execution.results = job_parameters(execution)
    context = {"section": "gc", "page": page, "run_form": run_form, "schedule_form": schedule_form}
    status = 400 if run_form.errors or schedule_form.errors else 200
    return render(request, "frontend/gc.html", context, status=status)


def _execution(vendor_type: str, execution_id: int) -> Execution:
    found = Execution.objects.filter(pk=execution_id, vendor_type=vendor_type).first()
    if found is None:
        raise InWords(Code.NOT_FOUND, _("This job does not exist."))
    return found


@sysadmin_only
def gc_execution(request: HttpRequest, execution_id: int) -> HttpResponse:
    """The run's status, results and log; while it runs, htmx refreshes the panel."""
    execution = _execution(GC, execution_id)
    context = {
        "section": "gc",
        "execution": execution,
        "results": job_parameters(execution),
        "log": _log(execution),
        "running": execution.status not in FINAL,
        "progress": _progress(execution),
    }
    template = "frontend/gc_progress.html" if is_htmx(request) else "frontend/gc_execution.html"
    return render(request, template, context)


@require_POST
@sysadmin_only
def stop_execution(request: HttpRequest, execution_id: int) -> HttpResponse:
    execution = Execution.objects.filter(pk=execution_id).first()
    if execution is None:
        raise InWords(Code.NOT_FOUND, _("This job does not exist."))
    attempt(
        request, job_services.request_stop, execution=execution, actor=Actor.of_request(request)
    )
    if execution.vendor_type == GC:
        return redirect("ui:gc-execution", execution_id=execution.pk)
    return redirect("ui:replication-execution", execution_id=execution.pk)


def _endpoint_from(data: dict[str, Any]) -> RegistryEndpoint:
    endpoint = RegistryEndpoint(
        **{k: data[k] for k in ("name", "type", "url", "access_key", "insecure", "description")}
    )
    endpoint.url = endpoint.url.rstrip("/")
    endpoint.access_secret = data["access_secret"]
    return endpoint


def _ping(endpoint: RegistryEndpoint) -> dict[str, Any]:
    try:
        open_adapter(endpoint).ping()
    except TransferError as exc:
        return {"success": False, "message": str(exc)}
    return {"success": True, "message": ""}


def _registry_values(form: RegistryForm, endpoint: RegistryEndpoint) -> dict[str, Any]:
    values = dict(form.cleaned_data)
    values.pop("access_secret")
    values["url"] = endpoint.url
    return values


@sysadmin_only
def registries(request: HttpRequest) -> HttpResponse:
    form = RegistryForm(request.POST or None)
    ping: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        endpoint = _endpoint_from(form.cleaned_data)
        if "test" in request.POST:
            ping = _ping(endpoint)
        else:
            values = _registry_values(form, endpoint)
            try:
                created = services.create_registry(
                    values=values,
                    access_secret=endpoint.access_secret,
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                refuse(form, exc, "name")
            else:
                services.refresh_health(endpoint=created)  # healthy or not, not "unknown"
                messages.success(request, _("Registry %(name)s added.") % {"name": values["name"]})
                return redirect("ui:registries")
    page = page_of(request, RegistryEndpoint.objects.order_by("name"))
    health = upstream_health([endpoint.pk for endpoint in page.object_list])
    for endpoint in page.object_list:
        endpoint.upstream_health = health[endpoint.pk]
    context = {"section": "registries", "page": page, "form": form, "ping": ping}
    return render(request, "frontend/registries.html", context, status=400 if form.errors else 200)


@sysadmin_only
def registry_edit(request: HttpRequest, registry_id: int) -> HttpResponse:
    """Edit an endpoint; an empty secret keeps the stored one (PUT /registries/{id})."""
    stored = selectors.endpoint(registry_id)
    initial = {field: getattr(stored, field) for field in RegistryForm.base_fields}
    initial.pop("access_secret")
    form = RegistryForm(request.POST or None, initial=initial, editing=stored.pk)
    ping: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        endpoint = _endpoint_from(form.cleaned_data)
        secret = endpoint.access_secret or None
        if secret is None:
            endpoint.access_secret = stored.access_secret
        if "test" in request.POST:
            ping = _ping(endpoint)
        else:
            try:
                updated = services.update_registry(
                    endpoint=stored,
                    values=_registry_values(form, endpoint),
                    access_secret=secret,
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                refuse(form, exc, "name")
            else:
                services.refresh_health(endpoint=updated)
                messages.success(request, _("Registry %(name)s saved.") % {"name": updated.name})
                return redirect("ui:registries")
    return _edit_page(
        request,
        form,
        section="registries",
        ping=ping,
        title=_("Edit registry %(name)s") % {"name": stored.name},
        cancel="/admin/registries",
        testable=True,
    )


def _edit_page(request: HttpRequest, form: forms.Form, **context: Any) -> HttpResponse:
    """The edit page of a registry or a rule: a 400 while the form has errors."""
    status = 400 if form.errors else 200
    return render(request, "frontend/edit_form.html", {"form": form, **context}, status=status)


@sysadmin_only
def registry_delete(request: HttpRequest, registry_id: int) -> HttpResponse:
    endpoint = selectors.endpoint(registry_id)
    return confirm_then_delete(
        request,
        services.delete_registry,
        endpoint=endpoint,
        question=_("Delete registry %(name)s?") % {"name": endpoint.name},
        cancel="/admin/registries",
        done="ui:registries",
        detail=_("A registry that replication rules use cannot be deleted."),
    )


def _policy_values(data: dict[str, Any]) -> dict[str, Any]:
    """The PolicyForm's fields as replication.services takes them (the API's shape)."""
    remote = selectors.endpoint(data["registry"])
    raw_filters = [
        {"type": kind, "value": data[field]}
        for kind, field in (("name", "name_filter"), ("tag", "tag_filter"))
        if data[field]
    ]
    try:
        checked = filters.check(raw_filters)
    except ValueError as exc:
        raise DomainError(
            Code.BAD_REQUEST, str(exc), key="filter.invalid", params={"why": str(exc)}
        ) from None
    push = data["direction"] == "push"
    return {
        "name": data["name"],
        "description": data["description"],
        "src_registry": None if push else remote,
        "dest_registry": remote if push else None,
        "dest_namespace": data["dest_namespace"],
        "filters": checked,
        "trigger_type": data["trigger_type"],
        "cron": data["cron"],
        "override": data["override"],
        "replicate_deletion": data["replicate_deletion"],
        "enabled": data["enabled"],
    }


@sysadmin_only
def replications(request: HttpRequest) -> HttpResponse:
    choices = list(RegistryEndpoint.objects.order_by("name").values_list("pk", "name"))
    form = PolicyForm(request.POST or None, registries=choices)
    if request.method == "POST" and form.is_valid():
        try:
            services.create_policy(
                values=_policy_values(form.cleaned_data), actor=Actor.of_request(request)
            )
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("Replication rule created."))
            return redirect("ui:replications")
    policies = ReplicationPolicy.objects.select_related("src_registry", "dest_registry")
    page = page_of(request, policies.order_by("name"))
    executions = selectors.executions().order_by("-start_time")[:10]
    context = {
        "section": "replication",
        "page": page,
        "form": form,
        "executions": executions,
        "has_registries": bool(choices),
    }
    return render(
        request, "frontend/replications.html", context, status=400 if form.errors else 200
    )


@require_POST
@sysadmin_only
def replication_run(request: HttpRequest, policy_id: int) -> HttpResponse:
    try:
        execution = services.start(
            policy=selectors.policy(policy_id), actor=Actor.of_request(request)
        )
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect("ui:replications")
    return redirect("ui:replication-execution", execution_id=execution.pk)


@sysadmin_only
def replication_edit(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = selectors.policy(policy_id)
    choices = list(RegistryEndpoint.objects.order_by("name").values_list("pk", "name"))
    filters_by_type = {item["type"]: item["value"] for item in policy.filters or []}
    initial = {
        "name": policy.name,
        "description": policy.description,
        "direction": "push" if policy.is_push else "pull",
        "registry": policy.dest_registry_id if policy.is_push else policy.src_registry_id,
        "name_filter": filters_by_type.get("name", ""),
        "tag_filter": filters_by_type.get("tag", ""),
        "dest_namespace": policy.dest_namespace,
        "trigger_type": policy.trigger_type,
        "cron": policy.cron,
        "override": policy.override,
        "replicate_deletion": policy.replicate_deletion,
        "enabled": policy.enabled,
    }
    form = PolicyForm(request.POST or None, registries=choices, initial=initial, editing=policy.pk)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_policy(
                policy=policy,
                values=_policy_values(form.cleaned_data),
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(form, exc)
        else:
            messages.success(request, _("Replication rule %(name)s saved.") % {"name": policy.name})
            return redirect("ui:replications")
    return _edit_page(
        request,
        form,
        section="replication",
        title=_("Edit replication rule %(name)s") % {"name": policy.name},
        cancel="/admin/replications",
    )


@sysadmin_only
def replication_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = selectors.policy(policy_id)
    return confirm_then_delete(
        request,
        services.delete_policy,
        policy=policy,
        question=_("Delete replication rule %(name)s?") % {"name": policy.name},
        cancel="/admin/replications",
        done="ui:replications",
    )


@sysadmin_only
def replication_execution(request: HttpRequest, execution_id: int) -> HttpResponse:
    execution = selectors.execution(execution_id)
    policy = ReplicationPolicy.objects.filter(pk=execution.vendor_id).first()
    page = page_of(request, selectors.tasks(execution).order_by("pk"))
    context = {
        "section": "replication",
        "execution": execution,
        "policy": policy,
        "page": page,
        "running": execution.status not in FINAL,
    }
    template = (
        "frontend/replication_progress.html"
        if is_htmx(request)
        else "frontend/replication_execution.html"
    )
    return render(request, template, context)


@sysadmin_only
def replication_task_log(request: HttpRequest, execution_id: int, task_id: int) -> HttpResponse:
    execution = selectors.execution(execution_id)
    task = selectors.tasks(execution).filter(pk=task_id).first()
    if task is None:
        raise InWords(Code.NOT_FOUND, _("This task does not exist."))
    context = {"section": "replication", "execution": execution, "task": task}
    return render(request, "frontend/task_log.html", context)
