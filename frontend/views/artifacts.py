"""A repository's artifacts and one artifact: tags, pull commands, index children,
layers and build history; add and remove tags; delete artifacts and repositories."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend import selectors as ui_selectors
from frontend.forms import CopyForm, TagForm, refusal_text
from frontend.links import artifact_url, repository_url
from frontend.refusals import InWords
from frontend.views import scanning
from frontend.views.base import attempt, page_of, signed_in
from frontend.views.projects import confirm
from frontend.views.signatures import artifact_signatures
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from immutable.enforcement import TagImmutable
from immutable.selectors import immutable_checker
from projects.selectors import ProjectAccess, require_access_by_name
from registry import copying, deletion, queries, selectors, services
from registry.models import Artifact, Tag
from registry.names import valid_repository_name
from signatures.selectors import signed_states


def _repository(request: HttpRequest, name: str, path: str, resource: str, action: str):  # noqa: ANN202
    access = require_access_by_name(request.user, name, resource, action)
    return access, selectors.repository_in(access.project, f"{name}/{path}")


@signed_in
def repository(request: HttpRequest, name: str, path: str) -> HttpResponse:
    access, repo = _repository(request, name, path, "artifact", "list")
    tag = request.GET.get("tag", "").strip()
    labels = list(ui_selectors.labels_for_project(access.project.pk))
    label = request.GET.get("label", "")
    label_id = int(label) if label.isdigit() and int(label) in {x.pk for x in labels} else None
    # Harbor's listing: index children and accessories are shown under their parent.
    terms = [f"tags=~{quote(tag, safe='')}"] if tag else []
    if label_id is not None:
        terms.append(f"labels=({label_id})")
    query = ",".join(terms) or None
    rows = queries.filter_artifacts(Artifact.objects.filter(repository=repo), query)
    rows = queries.sort_artifacts(rows, None)
    page = page_of(request, selectors.artifacts_with_details(rows, with_tag=True, with_label=True))
    immutable = immutable_checker(repo.pk)
    bars = scanning.overview_bars(list(page.object_list))
    signed = signed_states(list(page.object_list))
    for row in page.object_list:
        row.immutable_tags = {tag.name for tag in row.tags.all() if immutable(tag.name)}
        row.scan_bar = bars.get(row.pk)
        row.signed = signed.get(row.pk, "")
    context = {
        "project": access.project,
        "repository": repo,
        "short_name": path,
        "page": page,
        "tag": tag,
        "labels": labels,
        "label_id": label_id,
        "can_delete": access.can("repository", "delete"),
        "pull": ui_selectors.pull_commands(repo.name, "<tag>"),
    }
    return render(request, "frontend/repository.html", context)


@signed_in
def repository_delete(request: HttpRequest, name: str, path: str) -> HttpResponse:
    _access, repo = _repository(request, name, path, "repository", "delete")
    if request.method == "POST":
        if attempt(
            request, deletion.delete_repository, repository=repo, actor=Actor.of_request(request)
        ):
            messages.success(request, _("Repository %(name)s deleted.") % {"name": repo.name})
            return redirect("ui:project-repositories", name=name)
        return redirect(repository_url(repo))
    return confirm(
        request,
        _("Delete repository %(name)s and all its artifacts?") % {"name": repo.name},
        cancel=repository_url(repo),
        detail=_("Pulls of its images fail from now on. Space is freed by the next GC."),
    )


def _artifact(
    request: HttpRequest, name: str, path: str, reference: str, resource: str, action: str
) -> tuple[ProjectAccess, Artifact]:
    access, repo = _repository(request, name, path, resource, action)
    return access, selectors.artifact_in(repo, reference)


@signed_in
def artifact(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    access, found = _artifact(request, name, path, reference, "artifact", "read")
    details = selectors.artifacts_with_details(
        Artifact.objects.filter(pk=found.pk), with_tag=True, with_label=True
    ).get()
    tags = list(details.tags.all())
    children = list(details.references.select_related("child").order_by("pk"))
    immutable = immutable_checker(found.repository_id)
    context = {
        **artifact_signatures(found, found.repository),
        "project": access.project,
        "repository": found.repository,
        "short_name": path,
        "artifact": details,
        "tags": tags,
        "immutable_tags": {tag.name for tag in tags if immutable(tag.name)},
        "children": children,
        "layers": ui_selectors.layers(details),
        "history": ui_selectors.build_history(details),
        "pull": ui_selectors.pull_commands(
            found.repository.name, tags[0].name if tags else details.digest
        ),
        "pull_by_digest": ui_selectors.pull_commands(found.repository.name, details.digest),
        "tag_form": TagForm(),
        "copy_form": CopyForm(initial={"project": access.project.name, "repository": path}),
        "attachable": [
            label
            for label in ui_selectors.labels_for_project(access.project.pk)
            if label.pk not in {attached.pk for attached in details.labels.all()}
        ],
        "can": {
            "add_label": access.can("artifact-label", "create"),
            "remove_label": access.can("artifact-label", "delete"),
            "add_tag": access.can("tag", "create"),
            "delete_tag": access.can("tag", "delete"),
            "delete": access.can("artifact", "delete"),
        },
        **scanning.scan_context(access, details),
    }
    return render(request, "frontend/artifact.html", context)


@require_POST
@signed_in
def tag_add(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    _access, found = _artifact(request, name, path, reference, "tag", "create")
    form = TagForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A tag name is required."))
    elif attempt(
        request,
        services.create_tag,
        artifact=found,
        name=form.cleaned_data["name"],
        actor=Actor.of_request(request),
    ):
        messages.success(request, _("Tag %(name)s added.") % {"name": form.cleaned_data["name"]})
    return redirect(artifact_url(found))


def _refuse_immutable(found: Artifact, tags: Iterable[str]) -> None:
    """Say so before the confirmation, not after it (the services check again)."""
    immutable = immutable_checker(found.repository_id)
    for tag in tags:
        if immutable(tag):
            raise TagImmutable(found.repository.name, tag)


@signed_in
def tag_delete(
    request: HttpRequest, name: str, path: str, reference: str, tag: str
) -> HttpResponse:
    _access, found = _artifact(request, name, path, reference, "tag", "delete")
    doomed = Tag.objects.filter(artifact=found, name=tag).select_related("repository__project")
    target = doomed.first()
    if target is None:
        raise InWords(Code.NOT_FOUND, _("This tag does not exist."))
    _refuse_immutable(found, [tag])
    if request.method == "POST":
        if attempt(request, services.delete_tag, tag=target, actor=Actor.of_request(request)):
            messages.success(request, _("Tag %(name)s deleted.") % {"name": tag})
        return redirect(artifact_url(found))
    return confirm(
        request,
        _("Delete tag %(tag)s of %(repository)s?")
        % {"tag": tag, "repository": found.repository.name},
        cancel=artifact_url(found),
        detail=_("The artifact stays; only the tag is removed."),
    )


@signed_in
def artifact_delete(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    _access, found = _artifact(request, name, path, reference, "artifact", "delete")
    if request.method != "POST":
        _refuse_immutable(found, found.tags.values_list("name", flat=True))
    if request.method == "POST":
        try:
            deletion.delete_artifact(artifact=found, actor=Actor.of_request(request))
        except DomainError as exc:
            messages.error(request, refusal_text(exc))
            return redirect(artifact_url(found))
        messages.success(request, _("Artifact %(digest)s deleted.") % {"digest": found.digest[:19]})
        return redirect(repository_url(found.repository))
    return confirm(
        request,
        _("Delete artifact %(digest)s?") % {"digest": found.digest},
        cancel=artifact_url(found),
        detail=_(
            "Its tags, and the children and accessories no other artifact keeps, are deleted too."
        ),
    )


@require_POST
@signed_in
def label_add(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    access, found = _artifact(request, name, path, reference, "artifact-label", "create")
    raw = request.POST.get("label", "")
    label = (
        ui_selectors.labels_for_project(access.project.pk).filter(pk=int(raw)).first()
        if raw.isdigit()
        else None
    )
    if label is None:
        messages.error(request, _("Choose a label of this project or a global one."))
    elif attempt(
        request, services.add_label, artifact=found, label=label, actor=Actor.of_request(request)
    ):
        messages.success(request, _("Label %(name)s added.") % {"name": label.name})
    return redirect(artifact_url(found))


@require_POST
@signed_in
def label_remove(
    request: HttpRequest, name: str, path: str, reference: str, label_id: int
) -> HttpResponse:
    _access, found = _artifact(request, name, path, reference, "artifact-label", "delete")
    if attempt(
        request,
        services.remove_label,
        artifact=found,
        label_id=label_id,
        actor=Actor.of_request(request),
    ):
        messages.success(request, _("Label removed."))
    return redirect(artifact_url(found))


@require_POST
@signed_in
def artifact_copy(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    """POST /projects/{p}/repositories/{r}/artifacts?from= from a form: the target project
    must let the caller create artifacts (the same 404/403 as the API)."""
    _access, found = _artifact(request, name, path, reference, "artifact", "read")
    form = CopyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Name the target project and repository."))
        return redirect(artifact_url(found))
    data = form.cleaned_data
    target = require_access_by_name(request.user, data["project"], "artifact", "create")
    destination = f"{target.project.name}/{data['repository'].strip('/')}"
    if not valid_repository_name(destination):
        invalid = _("%(name)s is not a valid repository name.") % {"name": destination}
        messages.error(request, invalid)
        return redirect(artifact_url(found))
    actor = Actor.of_request(request)
    try:
        copied = copying.copy_artifact(
            source=found, project=target.project, destination=destination, actor=actor
        )
        if data["tag"]:
            services.create_tag(artifact=copied, name=data["tag"], actor=actor)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect(artifact_url(found))
    messages.success(request, _("Copied to %(name)s.") % {"name": destination})
    return redirect(artifact_url(copied))
