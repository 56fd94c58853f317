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

from frontend.refusals import InWords
from frontend.views.base import attempt, signed_in, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code
from projects.selectors import require_access_by_name
from registry import selectors as registry_selectors
from registry.models import Artifact, Repository
from signatures import selectors, services


class TrustedKeyForm(forms.Form):
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


def project_keys_context(project_id: int, can_manage: bool) -> dict[str, Any]:
    return {
        "trusted_keys": list(selectors.project_keys(project_id)),
        "system_keys": list(selectors.system_keys()),
        "key_form": TrustedKeyForm() if can_manage else None,
    }


def _add(request: HttpRequest, project: Any) -> bool:
    form = TrustedKeyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A key name and a PEM public key are required."))
        return False
    data = form.cleaned_data
    return attempt(
        request,
        services.add_key,
        project=project,
        name=data["name"],
        public_key=data["public_key"],
        description=data["description"],
        actor=Actor.of_request(request),
    )


@require_POST
@signed_in
def project_key_add(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "metadata", "create")
    if _add(request, access.project):
        messages.success(request, _("Trusted key added."))
    return redirect("ui:project-configuration", name=name)


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
    if request.method == "POST":
        if _add(request, None):
            messages.success(request, _("Trusted key added."))
        return redirect("ui:trusted-keys")
    context = {
        "section": "trusted-keys",
        "keys": list(selectors.system_keys()),
        "form": TrustedKeyForm(),
    }
    return render(request, "frontend/trusted_keys.html", context)


@require_POST
@sysadmin_only
def system_key_delete(request: HttpRequest, key_id: int) -> HttpResponse:
    key = selectors.system_keys().filter(pk=key_id).first()
    if key is None:
        raise InWords(Code.NOT_FOUND, _("This key does not exist."))
    if attempt(request, services.delete_key, key=key, actor=Actor.of_request(request)):
        messages.success(request, _("Trusted key deleted."))
    return redirect("ui:trusted-keys")
