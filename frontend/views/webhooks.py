"""The project's Webhooks tab (#26): its policies with their targets, event types and
formats, whether a target keeps failing, the last deliveries with their status and log,
a form for a new policy, and enable/disable, test send and delete. The checks and writes
are the API's (`notification-policy`, webhooks.services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from frontend.checked_forms import Check, ServiceChecked
from frontend.forms import refuse
from frontend.refusals import Coded
from frontend.views.base import attempt, signed_in
from frontend.views.projects import confirm_then_delete, render_tab
from harbor_py.core import secretbox
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects.models import Project
from projects.selectors import require_access_by_name
from webhooks import payloads, selectors, sender, services
from webhooks.models import WebhookPolicy

RESOURCE = "notification-policy"
# (value, label): the notify type and payload format of the targets
KINDS = [
    ("http:Default", gettext_lazy("HTTP, Harbor's JSON")),
    ("http:CloudEvents", gettext_lazy("HTTP, CloudEvents 1.0")),
    ("slack:Default", gettext_lazy("Slack")),
]


def _addresses(text: str) -> None:
    """The target URLs' checks of webhooks.services, before it is called (each refusal
    next to the field; the service checks again)."""
    addresses = [a.strip() for a in text.splitlines() if a.strip()]
    if len(addresses) > services.MAX_TARGETS:
        raise Coded("webhook.too_many_targets", max=services.MAX_TARGETS)
    if len(set(addresses)) != len(addresses):
        raise Coded("webhook.address_twice")
    for address in addresses:
        try:
            sender.check_address(address)
        except sender.Refused:
            raise Coded("webhook.address_refused", address=address) from None


class WebhookForm(ServiceChecked):
    """Every field's refusal at once: the name and the target URLs are checked before
    webhooks.services is called."""

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def checks(self) -> dict[str, Check]:
        def free(name: str) -> None:
            if WebhookPolicy.objects.filter(project=self.project, name=name.strip()).exists():
                raise Coded("webhook.name_taken", Code.CONFLICT, name=name.strip())

        return {"name": free, "addresses": _addresses}

    name = forms.CharField(label=gettext_lazy("Name"), max_length=256)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    addresses = forms.CharField(
        label=gettext_lazy("Target URLs (one per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    kind = forms.ChoiceField(label=gettext_lazy("Notify type and format"), choices=KINDS)
    auth_header = forms.CharField(
        label=gettext_lazy("Auth header"), required=False, widget=forms.PasswordInput
    )
    signing_secret = forms.CharField(
        label=gettext_lazy("Signing secret (HMAC-SHA256)"),
        required=False,
        widget=forms.PasswordInput,
    )
    skip_cert_verify = forms.BooleanField(
        label=gettext_lazy("Skip certificate verification"), required=False
    )
    event_types = forms.MultipleChoiceField(
        label=gettext_lazy("Event types"),
        choices=[(e, e) for e in payloads.EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        initial=[payloads.PUSH_ARTIFACT],
    )

    def policy_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        notify_type, payload_format = data["kind"].split(":")
        addresses = [a.strip() for a in data["addresses"].splitlines() if a.strip()]
        return {
            "name": data["name"],
            "description": data["description"],
            "enabled": True,
            "event_types": data["event_types"],
            "targets": [
                {
                    "type": notify_type,
                    "address": address,
                    "payload_format": payload_format,
                    "auth_header": data["auth_header"],
                    "signing_secret": data["signing_secret"],
                    "skip_cert_verify": data["skip_cert_verify"],
                }
                for address in addresses
            ],
        }


def _url(name: str) -> str:
    return reverse("ui:project-webhooks", args=[name])


def _rows(policy: WebhookPolicy) -> dict[str, Any]:
    states = selectors.target_states(policy)
    return {
        "policy": policy,
        "targets": [
            {**target, "state": states.get(target["address"])} for target in policy.targets
        ],
        "deliveries": selectors.recent_deliveries(policy),
    }


@signed_in
def project_webhooks(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, RESOURCE, "list")
    form = WebhookForm(request.POST or None, project=access.project)
    if request.method == "POST":
        access = require_access_by_name(request.user, name, RESOURCE, "create")
        if form.is_valid():
            try:
                services.create_policy(
                    project=access.project,
                    data=form.policy_data(),
                    actor=Actor.of_request(request),
                )
            except DomainError as exc:
                refuse(form, exc, "addresses")
            else:
                messages.success(request, _("Webhook %(name)s created.") % form.cleaned_data)
                return redirect(_url(name))
    policies = [_rows(p) for p in selectors.project_policies(access.project.pk)]
    return render_tab(
        request,
        access,
        "webhooks",
        "frontend/webhooks.html",
        status=400 if form.errors else 200,
        policies=policies,
        form=form,
        manage=access.can(RESOURCE, "update"),
        add=access.can(RESOURCE, "create"),
        remove=access.can(RESOURCE, "delete"),
    )


def _policy(request: HttpRequest, name: str, policy_id: int, action: str) -> Any:
    access = require_access_by_name(request.user, name, RESOURCE, action)
    return access, selectors.policy(access.project.pk, policy_id)


@require_POST
@signed_in
def webhook_toggle(request: HttpRequest, name: str, policy_id: int) -> HttpResponse:
    access, policy = _policy(request, name, policy_id, "update")
    data = {
        "name": policy.name,
        "description": policy.description,
        "event_types": policy.event_types,
        "enabled": not policy.enabled,
        # targets as stored: the secrets are re-entered by the service only when named
        "targets": [_editable(t) for t in policy.targets],
    }
    if attempt(
        request,
        services.update_policy,
        project=access.project,
        policy=policy,
        data=data,
        actor=Actor.of_request(request),
    ):
        enabled, disabled = _("Webhook %(name)s enabled."), _("Webhook %(name)s disabled.")
        done = enabled if data["enabled"] else disabled
        messages.success(request, done % {"name": policy.name})
    return redirect(_url(name))


def _editable(target: dict[str, Any]) -> dict[str, Any]:
    auth = target.get("auth_header") or ""
    return {
        "type": target["type"],
        "address": target["address"],
        "payload_format": target.get("payload_format", "Default"),
        "skip_cert_verify": target.get("skip_cert_verify", False),
        "auth_header": secretbox.decrypt(auth) if auth else "",
    }


@require_POST
@signed_in
def webhook_test(request: HttpRequest, name: str, policy_id: int) -> HttpResponse:
    access, policy = _policy(request, name, policy_id, "update")
    if attempt(
        request,
        services.send_test,
        project=access.project,
        policy=policy,
        actor=Actor.of_request(request),
    ):
        sent = _("A test event is on its way to %(name)s.")
        messages.success(request, sent % {"name": policy.name})
    return redirect(_url(name))


@signed_in
def webhook_delete(request: HttpRequest, name: str, policy_id: int) -> HttpResponse:
    access, policy = _policy(request, name, policy_id, "delete")
    return confirm_then_delete(
        request,
        services.delete_policy,
        question=_("Delete webhook %(name)s?") % {"name": policy.name},
        cancel=_url(name),
        done=_url(name),
        project=access.project,
        policy=policy,
    )


@signed_in
def webhook_log(request: HttpRequest, name: str, policy_id: int, execution_id: int) -> HttpResponse:
    access, policy = _policy(request, name, policy_id, "read")
    execution = selectors.execution(policy, execution_id)
    task = selectors.tasks(execution).first()
    context = {"project": access.project, "policy": policy, "execution": execution, "task": task}
    return render(request, "frontend/webhook_log.html", context)
