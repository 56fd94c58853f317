"""Projects: the list (search, create) and a project's tabs: repositories, members,
labels, logs (the configuration tab is in project_settings, robots in robots)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.robots import person_of
from audit import selectors as audit_selectors
from frontend import selectors as ui_selectors
from frontend.forms import (
    ROLE_LABELS,
    LabelForm,
    MemberForm,
    ProjectForm,
    RoleForm,
    refuse,
)
from frontend.refusals import InWords
from frontend.views.base import attempt, is_htmx, page_of, signed_in
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects import member_lookup, selectors, services
from projects.roles import Role
from projects.selectors import ProjectAccess, require_access_by_name
from proxy_cache.selectors import endpoint_choices as proxy_endpoints
from proxy_cache.selectors import job_logs as proxy_job_logs
from quotas import services as quota_services
from registry import label_services, queries
from registry import selectors as registry_selectors
from registry.models import Label, Repository

TABS = ("repositories", "members", "robots", "webhooks", "labels", "logs", "configuration")


def may_create_projects(request: HttpRequest) -> bool:
    """The same rule as POST /projects (project_creation_restriction)."""
    return selectors.may_create_projects(request.user)


@signed_in
def project_list(request: HttpRequest) -> HttpResponse:
    name = request.GET.get("name", "").strip()
    visibility = request.GET.get("public", "")
    public = {"true": True, "false": False}.get(visibility)
    projects = selectors.list_projects(request.user, name=name or None, public=public)
    page = page_of(request, projects)
    roles = selectors.roles_by_project(request.user, list(page.object_list))
    quotas = ui_selectors.quotas_by_project([project.pk for project in page.object_list])
    sysadmin = request.user.is_superuser
    rows = []
    for project in page.object_list:
        access = ProjectAccess(
            project=project, roles=roles.get(project.pk, set()), sysadmin=sysadmin
        )
        rows.append(
            {
                "project": project,
                "role": _role_label(access.roles),
                # The rule of GET /quotas/{id}: whoever may read the project's quota.
                "quota": quotas.get(project.pk) if access.can("quota", "read") else None,
            }
        )
    context = {
        "page": page,
        "rows": rows,
        "name": name,
        "visibility": visibility,
        "may_create": may_create_projects(request),
    }
    template = "frontend/projects_table.html" if is_htmx(request) else "frontend/projects.html"
    return render(request, template, context)


def _role_label(roles: set[Role]) -> str:
    if not roles:
        return ""
    access = ProjectAccess(project=None, roles=roles)  # type: ignore[arg-type]  # only the roles are read
    return str(ROLE_LABELS[access.highest_role])  # type: ignore[index]  # roles is not empty, so there is a highest


@signed_in
def project_create(request: HttpRequest) -> HttpResponse:
    if not may_create_projects(request):
        raise InWords(Code.FORBIDDEN, _("Only system administrators may create projects."))
    endpoints = proxy_endpoints() if request.user.is_superuser else []
    form = ProjectForm(
        request.POST or None, with_limit=_may_choose_limit(request), endpoints=endpoints
    )
    if request.method == "POST" and form.is_valid():
        try:
            project = services.create_project(
                owner=person_of(request),
                actor=Actor.of_request(request),
                name=form.cleaned_data["project_name"],
                public=form.cleaned_data["public"],
                storage_limit=form.cleaned_data.get("storage_limit"),
                registry_id=form.cleaned_data.get("registry_id"),
            )
        except DomainError as exc:
            refuse(form, exc, "project_name")
        else:
            messages.success(request, _("Project %(name)s created.") % {"name": project.name})
            return redirect("ui:project", name=project.name)
    status = 400 if form.errors else 200
    return render(request, "frontend/project_create.html", {"form": form}, status=status)


def _may_choose_limit(request: HttpRequest) -> bool:
    """POST /projects takes storage_limit from sysadmins only; without per-project quotas
    there is no limit to choose."""
    return request.user.is_superuser and configuration.get("quota_per_project_enable")


def render_tab(
    request: HttpRequest,
    access: ProjectAccess,
    tab: str,
    template: str,
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    context = {
        "project": access.project,
        "access": access,
        "tab": tab,
        "can": _abilities(access),
        **extra,
    }
    return render(request, template, context, status=status)


def _abilities(access: ProjectAccess) -> dict[str, bool]:
    """What the page offers; the services and these same checks refuse the rest."""
    return {
        "members": access.can("member", "list"),
        "add_member": access.can("member", "create"),
        "labels": access.can("label", "list"),
        "add_label": access.can("label", "create"),
        "logs": access.can("log", "list"),
        "manage_keys": access.can("metadata", "create"),
        "configure": access.can("project", "update"),
        "delete_project": access.can("project", "delete"),
        "delete_repository": access.can("repository", "delete"),
        "robots": access.can("robot", "list"),
        "retention": access.can("tag-retention", "list"),
        "add_robot": access.can("robot", "create"),
        "manage_robots": access.can("robot", "update"),
        "delete_robots": access.can("robot", "delete"),
        "quota": access.can("quota", "read"),
        "immutability": access.can("immutable-tag", "list"),
        "add_rule": access.can("immutable-tag", "create"),
        "edit_rules": access.can("immutable-tag", "update"),
        "delete_rules": access.can("immutable-tag", "delete"),
        "webhooks": access.can("notification-policy", "list"),
    }


@signed_in
def project_detail(request: HttpRequest, name: str) -> HttpResponse:
    """The summary tab, as GET /projects/{p}/summary: counts, the quota for those who may
    read it, members by role for those who may list them, and how to push."""
    access = require_access_by_name(request.user, name, "project", "read")
    project = access.project
    member_counts = None
    if access.can("member", "list"):
        counts = selectors.member_counts(project)
        member_counts = [(ROLE_LABELS[role], counts[role]) for role in ROLE_LABELS]
    return render_tab(
        request,
        access,
        "summary",
        "frontend/project_summary.html",
        repo_count=selectors.repository_count(project),
        artifact_count=ui_selectors.project_artifact_count(project.pk),
        quota=quota_services.quota_of(project) if access.can("quota", "read") else None,
        member_counts=member_counts,
        can_push=access.can("repository", "push"),
        push=ui_selectors.push_commands(project.name),
    )


@signed_in
def repositories(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "repository", "list")
    search = request.GET.get("q", "").strip()
    rows = queries.apply(
        Repository.objects.filter(project=access.project),
        f"name=~{quote(search)}" if search else None,
        "-update_time",
        queries.REPOSITORIES,
    )
    page = page_of(request, rows)
    registry_selectors.count_artifacts(list(page.object_list))
    template = (
        "frontend/repositories_table.html" if is_htmx(request) else "frontend/repositories.html"
    )
    push = None
    if not page.paginator.count and not search and access.can("repository", "push"):
        push = ui_selectors.push_commands(access.project.name)  # an empty project: how to fill it
    return render_tab(request, access, "repositories", template, page=page, q=search, push=push)


@signed_in
def members(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "member", "list")
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        access = require_access_by_name(request.user, name, "member", "create")
        if form.is_valid() and _add_member(request, access, form):
            return redirect("ui:project-members", name=name)
    rows = selectors.project_members(access.project).order_by("pk")
    page = page_of(request, rows)
    for member in page.object_list:
        member.role_label = ROLE_LABELS[Role(member.role)]
    status = 400 if form.errors else 200
    return render_tab(
        request,
        access,
        "members",
        "frontend/members.html",
        page=page,
        form=form,
        role_form=RoleForm(),
        status=status,
    )


def _add_member(request: HttpRequest, access: ProjectAccess, form: MemberForm) -> bool:
    data = form.cleaned_data
    who = Actor.of_request(request)
    try:
        if data["kind"] == "user":
            user, group = member_lookup.find_user({"username": data["name"]}, actor=who), None
        else:
            user, group = None, member_lookup.find_group({"group_name": data["name"]}, actor=who)
        services.add_member(
            project=access.project, role=data["role"], user=user, group=group, actor=who
        )
    except DomainError as exc:
        refuse(form, exc, "name")
        return False
    messages.success(request, _("Member %(name)s added.") % {"name": data["name"]})
    return True


def _member(access: ProjectAccess, member_id: int):  # noqa: ANN202
    member = selectors.project_member(access.project, member_id)
    if member is None:
        raise InWords(Code.NOT_FOUND, _("This member does not exist."))
    return member


@require_POST
@signed_in
def member_role(request: HttpRequest, name: str, member_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "member", "update")
    form = RoleForm(request.POST)
    if form.is_valid():
        attempt(
            request,
            services.update_member_role,
            member=_member(access, member_id),
            role=form.cleaned_data["role"],
            actor=Actor.of_request(request),
        )
    return redirect("ui:project-members", name=name)


@signed_in
def member_delete(request: HttpRequest, name: str, member_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "member", "delete")
    member = _member(access, member_id)
    entity = member.user.username if member.user else member.group.group_name
    if request.method == "POST":
        if attempt(request, services.delete_member, member=member, actor=Actor.of_request(request)):
            messages.success(request, _("Member %(name)s removed.") % {"name": entity})
        return redirect("ui:project-members", name=name)
    return confirm(
        request,
        _("Remove member %(name)s from project %(project)s?") % {"name": entity, "project": name},
        cancel=f"/projects/{name}/members",
    )


def confirm(
    request: HttpRequest, question: str, *, cancel: str, detail: str = "", action: str = ""
) -> HttpResponse:
    """The confirmation step of every destructive action: a page that POSTs back."""
    context = {
        "question": question,
        "cancel": cancel,
        "detail": detail,
        "action": action or _("Yes, delete"),
    }
    return render(request, "frontend/confirm.html", context)


def confirm_then_delete(
    request: HttpRequest,
    delete: Callable[..., Any],
    /,
    *,
    question: str,
    cancel: str,
    done: str,
    detail: str = "",
    **target: Any,
) -> HttpResponse:
    """`confirm`; on its POST, the service call `delete(**target, actor=...)`, then a
    redirect to the URL named `done` (a refusal shows there as an error message)."""
    if request.method == "POST":
        attempt(request, delete, **target, actor=Actor.of_request(request))
        return redirect(done)
    return confirm(request, question, cancel=cancel, detail=detail)


@signed_in
def labels(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "label", "list")
    form = LabelForm(request.POST or None, project=access.project)
    if request.method == "POST":
        access = require_access_by_name(request.user, name, "label", "create")
        if form.is_valid():
            try:
                label_services.create_label(
                    scope=Label.Scope.PROJECT,
                    project=access.project,
                    **form.cleaned_data,
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                refuse(form, exc, "name")
            else:
                return redirect("ui:project-labels", name=name)
    page = page_of(request, Label.objects.filter(project=access.project).order_by("name"))
    status = 400 if form.errors else 200
    return render_tab(
        request, access, "labels", "frontend/labels.html", status=status, page=page, form=form
    )


@signed_in
def label_delete(request: HttpRequest, name: str, label_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "label", "delete")
    label = Label.objects.filter(project=access.project, pk=label_id).first()
    if label is None:
        raise InWords(Code.NOT_FOUND, _("This label does not exist."))
    if request.method == "POST":
        attempt(request, label_services.delete_label, label=label, actor=Actor.of_request(request))
        return redirect("ui:project-labels", name=name)
    return confirm(
        request,
        _("Delete label %(name)s?") % {"name": label.name},
        cancel=f"/projects/{name}/labels",
        detail=_("It is removed from every artifact too."),
    )


LOG_FILTERS = ("username", "operation", "resource_type", "resource")


def audit_query(request: HttpRequest) -> tuple[str | None, dict[str, str]]:
    """The q= of the audit selectors from the filter form's fields (fuzzy matches)."""
    values = {key: request.GET.get(key, "").strip() for key in LOG_FILTERS}
    terms = [f"{key}=~{quote(value, safe='')}" for key, value in values.items() if value]
    return (",".join(terms) or None), values


@signed_in
def logs(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "log", "list")
    q, filters = audit_query(request)
    entries = audit_selectors.project_entries(access.project.pk, q=q, sort=None)
    page = page_of(request, entries, count=audit_selectors.count_entries)
    # a proxy cache's job log: what its pulls fetched, and what the cache served and why
    proxy_logs = proxy_job_logs(access.project.pk) if access.project.is_proxy else []
    return render_tab(
        request,
        access,
        "logs",
        "frontend/project_logs.html",
        page=page,
        filters=filters,
        proxy_logs=proxy_logs,
    )
