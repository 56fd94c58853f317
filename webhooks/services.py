"""Writes about webhook policies, each in one transaction with its audit record. Secrets
of a target (its auth header, its signing secret) are encrypted at rest
(harbor_py.core.secretbox); the signing secret is never answered."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from harbor_py.core import configuration, secretbox
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict
from jobs.models import FINAL, Execution, Task
from projects.models import Project
from webhooks import payloads, sender
from webhooks.consumers import forget_wanted, start_deliveries
from webhooks.delivery import VENDOR_TYPES
from webhooks.models import WebhookPolicy
from webhooks.payloads import Notification

MAX_TARGETS = 10
MAX_SECRET = 4096
# the UI form field of a checked value (frontend.refusals puts the refusal next to it)
FIELDS = {"target address": "addresses"}


def _text(raw: Any, where: str, *, limit: int, required: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str) or len(raw) > limit:
        raise bad_request(
            f"{where} must be a string of at most {limit} characters",
            key="webhook.too_long",
            params={"max": limit, "field": FIELDS.get(where, where)},
        )
    if required and not raw.strip():
        raise bad_request(
            f"{where} is required",
            key="webhook.required",
            params={"field": FIELDS.get(where, where)},
        )
    return raw


def _target(raw: Any, previous: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("each target must be an object")
    notify_type = raw.get("type") or payloads.HTTP
    if notify_type not in payloads.NOTIFY_TYPES:
        raise bad_request(f"target type must be one of {', '.join(payloads.NOTIFY_TYPES)}")
    address = _text(raw.get("address"), "target address", limit=2048, required=True).strip()
    try:
        sender.check_address(address)
    except sender.Refused as exc:
        raise bad_request(
            f"target address refused: {exc}",
            key="webhook.address_refused",
            params={"address": address},
        ) from None
    payload_format = raw.get("payload_format") or payloads.DEFAULT
    if payload_format not in payloads.FORMATS[notify_type]:
        allowed = ", ".join(payloads.FORMATS[notify_type])
        raise bad_request(f"payload_format of a {notify_type} target must be one of {allowed}")
    skip = raw.get("skip_cert_verify", False)
    if not isinstance(skip, bool):
        raise bad_request("skip_cert_verify must be a boolean")
    auth = _text(raw.get("auth_header"), "auth_header", limit=MAX_SECRET)
    before = previous.get(address, {})
    if "signing_secret" in raw:
        signing = _text(raw.get("signing_secret"), "signing_secret", limit=MAX_SECRET)
        signing_stored = secretbox.encrypt(signing) if signing else ""
    else:  # never answered, so an update that does not name it keeps it
        signing_stored = before.get("signing_secret", "")
    return {
        "type": notify_type,
        "address": address,
        "auth_header": secretbox.encrypt(auth) if auth else "",
        "skip_cert_verify": skip,
        "payload_format": payload_format,
        "signing_secret": signing_stored,
    }


def _clean(policy: WebhookPolicy, data: dict[str, Any]) -> None:
    policy.name = _text(data.get("name"), "name", limit=256, required=True).strip()
    policy.description = _text(data.get("description"), "description", limit=4096)
    targets = data.get("targets")
    if not isinstance(targets, list) or not targets:
        raise bad_request("targets must be a non-empty list", key="webhook.targets_required")
    if len(targets) > MAX_TARGETS:
        raise bad_request(
            f"a policy has at most {MAX_TARGETS} targets",
            key="webhook.too_many_targets",
            params={"max": MAX_TARGETS},
        )
    previous = {t["address"]: t for t in policy.targets or []}
    cleaned = [_target(t, previous) for t in targets]
    if len({t["address"] for t in cleaned}) != len(cleaned):
        raise bad_request("a policy names each target address once", key="webhook.address_twice")
    policy.targets = cleaned
    event_types = data.get("event_types")
    if not isinstance(event_types, list) or not event_types:
        raise bad_request(
            "event_types must be a non-empty list", key="webhook.event_types_required"
        )
    unknown = [e for e in event_types if e not in payloads.EVENT_TYPES]
    if unknown:
        raise bad_request(f"unknown event types: {', '.join(map(str, unknown))}")
    policy.event_types = list(dict.fromkeys(event_types))
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise bad_request("enabled must be a boolean")
    policy.enabled = enabled


def _record(
    policy: WebhookPolicy, project: Project, actor: Actor, operation: str, description: str = ""
) -> None:
    record(
        actor=actor,
        operation=operation,
        resource_type="notification_policy",
        resource=policy.name,
        project_id=project.pk,
        project_name=project.name,
        description=description
        or f"events {', '.join(policy.event_types)}; targets "
        + ", ".join(t["address"] for t in policy.targets),
    )


def _save(policy: WebhookPolicy) -> None:
    forget_wanted(policy.project.name)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise conflict(
            f"a webhook policy named {policy.name} already exists",
            key="webhook.name_taken",
            params={"name": policy.name},
        ) from None


@transaction.atomic
def create_policy(*, project: Project, data: dict[str, Any], actor: Actor) -> WebhookPolicy:
    policy = WebhookPolicy(project=project, creator=actor.username)
    _clean(policy, data)
    _save(policy)
    _record(policy, project, actor, "create")
    return policy


@transaction.atomic
def update_policy(
    *, project: Project, policy: WebhookPolicy, data: dict[str, Any], actor: Actor
) -> WebhookPolicy:
    _clean(policy, data)
    _save(policy)
    _record(policy, project, actor, "update")
    return policy


@transaction.atomic
def delete_policy(*, project: Project, policy: WebhookPolicy, actor: Actor) -> None:
    _record(policy, project, actor, "delete")
    forget_wanted(project.name)
    policy.delete()


@transaction.atomic
def send_test(*, project: Project, policy: WebhookPolicy, actor: Actor) -> list[int]:
    """A PUSH_ARTIFACT notification of a made-up artifact to every target of the policy
    (the UI's test send); returns the executions that deliver it."""
    digest = "sha256:" + "0" * 64
    note = Notification(
        event_id=uuid.uuid4().hex,
        event_type=payloads.PUSH_ARTIFACT,
        project=project.name,
        occur_at=int(time.time()),
        operator=actor.username,
        event_data={
            "resources": [{"digest": digest, "tag": "test", "resource_url": "test"}],
            "repository": payloads.repository_data(
                f"{project.name}/webhook-test", public=project.public, created=None
            ),
        },
    )
    _record(policy, project, actor, "update", "test send")
    return start_deliveries(note, [policy], test=True)


PURGE_BATCH = 1000


def purge_executions(*, now: dt.datetime | None = None) -> int:
    """Delete the webhook executions (their tasks and logs with them) that ended more than
    `webhook_execution_retention_days` ago, in batches of PURGE_BATCH, each its own short
    transaction; how many went. Only finished ones: a delivery still pending or running
    (or waiting for a retry) stays whatever its age."""
    days = int(configuration.get("webhook_execution_retention_days"))
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    old = Execution.objects.filter(
        vendor_type__in=VENDOR_TYPES, status__in=FINAL, end_time__lt=cutoff
    )
    purged = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH]):
        with transaction.atomic():
            doomed = old.filter(pk__in=ids)  # the condition again, in the deleting statement
            Task.objects.filter(execution__in=doomed).delete()
            deleted, _ = doomed.delete()
        purged += deleted
    return purged
