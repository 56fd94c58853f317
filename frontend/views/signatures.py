"""Trusted keys (a project's, on its configuration tab; the system's, for admins) and the
signature part of the artifact page (signatures.services, the same calls as the API)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from frontend.checked_forms import Check, ServiceChecked
from frontend.forms import refuse
from frontend.refusals import Coded, InWords
from frontend.views.base import attempt, signed_in, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects.models import Project
from projects.selectors import require_access_by_name
from registry import selectors as registry_selectors
from registry.models import Artifact, Repository
from signatures import keys, selectors, services


class TrustedKeyForm(ServiceChecked):
    """A key of `project` (None: the system's): a missing name and a refused key are shown
    at once, each next to its field (signatures.services stops at the first)."""

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def checks(self) -> dict[str, Check]:
        def trusted(pem: str) -> None:
            parsed = keys.parse(pem)
            existing = (
                selectors.system_keys()
                if self.project is None
                else selectors.project_keys(self.project.pk)
            )
            if existing.filter(fingerprint=parsed.fingerprint).exists():
                raise Coded("key.trusted_already", Code.CONFLICT, fingerprint=parsed.fingerprint)

        return {"public_key": trusted}

    name = forms.CharField(label=gettext_lazy("Key name"), max_length=128)
    public_key = forms.CharField(
        label=gettext_lazy("Public key (PEM)"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        help_text=gettext_lazy(
            "An ECDSA P-256/P-384, RSA or Ed25519 public key, or an X.509 certificate."
        ),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), max_length=1024, required=False
    )


STATUS_WORDS = {
    "verified": gettext_lazy("verified"),
    "untrusted": gettext_lazy("not by a trusted key"),
    "invalid": gettext_lazy("invalid"),
}


def artifact_signatures(found: Artifact, repository: Repository) -> dict[str, Any]:
    """The accessories of the artifact page: every accessory with its type, and the
    verification of each signature against the keys trusted now."""
    accessories = registry_selectors.accessories_of([found]).get(
        (found.repository_id, found.digest), []
    )
    verdicts = {v.signature.pk: v.check for v in services.checked(found, repository)}
    return {
        "accessories": [
            {
                "artifact": accessory,
                "check": verdicts.get(accessory.pk),
                "status": STATUS_WORDS.get(verdicts[accessory.pk].status, "")
                if accessory.pk in verdicts
                else "",
            }
            for accessory in accessories
        ]
    }


def project_keys_context(
    project_id: int, can_manage: bool, key_form: TrustedKeyForm | None = None
) -> dict[str, Any]:
    """`key_form`: the form just refused, with its errors."""
    return {
        "trusted_keys": list(selectors.project_keys(project_id)),
        "system_keys": list(selectors.system_keys()),
        "key_form": key_form or (TrustedKeyForm() if can_manage else None),
    }


def add_key(request: HttpRequest, project: Project | None) -> TrustedKeyForm | None:
    """Trust the posted key; None when done, else the form with its refusals."""
    form = TrustedKeyForm(request.POST, project=project)
    if not form.is_valid():
        return form
    data = form.cleaned_data
    try:
        services.add_key(
            project=project,
            name=data["name"],
            public_key=data["public_key"],
            description=data["description"],
            actor=Actor.of_request(request),
        )
    except DomainError as exc:
        refuse(form, exc)
        return form
    messages.success(request, _("Trusted key added."))
    return None


@require_POST
@signed_in
def project_key_delete(request: HttpRequest, name: str, key_id: int) -> HttpResponse:
    access = require_access_by_name(request.user, name, "metadata", "delete")
    key = selectors.project_keys(access.project.pk).filter(pk=key_id).first()
    if key is None:
        raise InWords(Code.NOT_FOUND, _("This key does not exist."))
    if attempt(request, services.delete_key, key=key, actor=Actor.of_request(request)):
        messages.success(request, _("Trusted key deleted."))
    return redirect("ui:project-configuration", name=name)


@sysadmin_only
def system_keys(request: HttpRequest) -> HttpResponse:
    form = None
    if request.method == "POST":
        form = add_key(request, None)
        if form is None:
            return redirect("ui:trusted-keys")
    context = {
        "section": "trusted-keys",
        "keys": list(selectors.system_keys()),
        "form": form or TrustedKeyForm(),
    }
    return render(request, "frontend/trusted_keys.html", context, status=400 if form else 200)


@require_POST
@sysadmin_only
def system_key_delete(request: HttpRequest, key_id: int) -> HttpResponse:
    key = selectors.system_keys().filter(pk=key_id).first()
    if key is None:
        raise InWords(Code.NOT_FOUND, _("This key does not exist."))
    if attempt(request, services.delete_key, key=key, actor=Actor.of_request(request)):
        messages.success(request, _("Trusted key deleted."))
    return redirect("ui:trusted-keys")
