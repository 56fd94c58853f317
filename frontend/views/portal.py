"""Pages of Harbor's portal beyond the project tabs: the global search in the header,
the sysadmins' quota overview (sortable) and global labels."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from frontend.forms import LabelForm, refuse
from frontend.refusals import InWords
from frontend.views.base import page_of, signed_in, sysadmin_only
from frontend.views.projects import confirm_then_delete
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects import selectors as project_selectors
from quotas.models import Quota
from registry import label_services
from registry.models import Label, Repository

SEARCH_LIMIT = 20
# ?sort= of the quota overview: the column and its direction ("-" first: descending).
QUOTA_SORTS = {
    "name": "project__name",
    "-name": "-project__name",
    "used": "used",
    "-used": "-used",
    "limit": "hard",
    "-limit": "-hard",
}


@signed_in
def search(request: HttpRequest) -> HttpResponse:
    """Projects and repositories whose name holds the words, among those the caller sees
    (GET /search's rule)."""
    words = request.GET.get("q", "").strip()
    projects: list[object] = []
    repositories: list[object] = []
    if words:
        visible = project_selectors.list_projects(request.user, name=words)
        projects = list(visible[:SEARCH_LIMIT])
        seen = project_selectors.list_projects(request.user).values("pk")
        repositories = list(
            Repository.objects.filter(project__in=seen, name__icontains=words)
            .select_related("project")
            .order_by("name")[:SEARCH_LIMIT]
        )
    context = {"q": words, "projects": projects, "repositories": repositories}
    return render(request, "frontend/search.html", context)


@sysadmin_only
def quotas(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "-used")
    order = QUOTA_SORTS.get(sort, QUOTA_SORTS["-used"])
    rows = Quota.objects.select_related("project").order_by(order, "project__name")
    context = {"section": "quotas", "page": page_of(request, rows), "sort": sort}
    return render(request, "frontend/quotas.html", context)


@sysadmin_only
def global_labels(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            label_services.create_label(
                scope=Label.Scope.GLOBAL,
                project=None,
                **form.cleaned_data,
                actor=Actor.of_request(request),
            )
        except DomainError as exc:
            refuse(form, exc, "name")
        else:
            return redirect("ui:global-labels")
    page = page_of(request, Label.objects.filter(scope=Label.Scope.GLOBAL).order_by("name"))
    context = {"section": "labels", "page": page, "form": form}
    status = 400 if form.errors else 200
    return render(request, "frontend/global_labels.html", context, status=status)


@sysadmin_only
def global_label_delete(request: HttpRequest, label_id: int) -> HttpResponse:
    label = Label.objects.filter(scope=Label.Scope.GLOBAL, pk=label_id).first()
    if label is None:
        raise InWords(Code.NOT_FOUND, _("This label does not exist."))
    return confirm_then_delete(
        request,
        label_services.delete_label,
        label=label,
        question=_("Delete label %(name)s?") % {"name": label.name},
        cancel="/admin/labels",
        done="ui:global-labels",
        detail=_("It is removed from every artifact too."),
    )
