"""Webhooks as a durable consumer of domain events (harbor_py.core.events).

`wants` runs in the publisher's transaction: it reads the event types of the project's
enabled policies from the cache (`wanted_types`, no SQL: one Redis GET, which the event's
other consumers share, `reads`; refilled by one SELECT on a miss and dropped whenever a
policy of the project changes), so a project
without webhooks gets no outbox row and one with webhooks gets one row per event.
`notify` runs in a Celery worker, inside the outbox's delivery transaction: it builds the
notification once and writes an execution (jobs) per matching policy and target, all in
two INSERTs. Those writes commit with the outbox row's deletion, so each event makes its
executions exactly once; the same worker then sends them, one after the other. The HTTP
request is at least once (a worker killed mid-request sends again, same id)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from harbor_py.core import read_ahead
from harbor_py.core.actor import Actor
from harbor_py.core.db import fetch_all, fetch_one
from harbor_py.core.events import Event, subscribe
from jobs.models import Execution, Trigger
from jobs.services import NewExecution, start_executions
from projects.models import Project
from quotas.events import QuotaExceeded, QuotaWarning
from quotas.usage import format_bytes
from registry.events import ArtifactDeleted, ArtifactPulled, ArtifactPushed, ScanFinished
from registry.models import Repository
from replication.events import ReplicationFinished
from replication.models import ReplicationPolicy
from retention.events import RetentionFinished
from retention.models import RetentionPolicy
from webhooks import payloads
from webhooks.delivery import DeliveryPolicy, vendor_type_of
from webhooks.models import WebhookPolicy
from webhooks.payloads import Notification

NOTIFIER = Actor.system("harbor-webhook")
SCAN_STATUS = {
    "Success": payloads.SCANNING_COMPLETED,
    "Error": payloads.SCANNING_FAILED,
    "Stopped": payloads.SCANNING_STOPPED,
}
_WILDCARDS = set("*?[{")


def _replication_project(policy_id: int) -> str | None:
    """The local project a replication policy writes to (pull-based) or reads from
    (push-based, when its name filter names one project without wildcards)."""
    policy = ReplicationPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        return None
    if policy.src_registry_id is not None:
        namespace = policy.dest_namespace
    else:
        names = [f.get("value", "") for f in policy.filters if f.get("type") == "name"]
        namespace = names[0] if names else ""
    project = namespace.split("/", 1)[0]
    return project if project and not _WILDCARDS & set(project) else None


def project_of(value: Event) -> str | None:
    if isinstance(
        value, ArtifactPushed | ArtifactDeleted | QuotaWarning | QuotaExceeded | RetentionFinished
    ):
        return value.project
    if isinstance(value, ArtifactPulled | ScanFinished):
        return value.repository.split("/", 1)[0]
    if isinstance(value, ReplicationFinished):
        return _replication_project(value.policy_id)
    return None


def event_type_of(value: Event) -> str | None:
    if isinstance(value, ArtifactPushed):
        return payloads.PUSH_ARTIFACT
    if isinstance(value, ArtifactDeleted):
        return payloads.DELETE_ARTIFACT
    if isinstance(value, ArtifactPulled):
        return payloads.PULL_ARTIFACT
    if isinstance(value, QuotaExceeded):
        return payloads.QUOTA_EXCEED
    if isinstance(value, QuotaWarning):
        return payloads.QUOTA_WARNING
    if isinstance(value, ReplicationFinished):
        return payloads.REPLICATION
    if isinstance(value, ScanFinished):
        return SCAN_STATUS.get(value.status)
    if isinstance(value, RetentionFinished):
        return payloads.TAG_RETENTION
    return None


def policies_for(project: str, event_type: str) -> list[WebhookPolicy]:
    # On every push into a project: a plain SELECT (harbor_py.core.db says why).
    found = fetch_all(
        WebhookPolicy,
        "enabled = %s AND project_id = (SELECT id FROM project WHERE name = %s)",
        [True, project],
    )
    return [policy for policy in found if event_type in policy.event_types]


WANTED_SECONDS = 300  # bounds a stale entry's life if an invalidation was ever lost


def _wanted_key(project: str) -> str:
    return f"webhooks:wanted:{project}"


def wanted_types(project: str) -> frozenset[str]:
    """The event types that the project's enabled policies listen to: from the cache
    (one round trip, no SQL on the push path), else one SELECT that refills it."""
    key = _wanted_key(project)
    cached = read_ahead.get(key)  # read ahead with the other consumers' (`reads`)
    if cached is not None:
        return frozenset(cached)
    found = fetch_all(
        WebhookPolicy,
        "enabled = %s AND project_id = (SELECT id FROM project WHERE name = %s)",
        [True, project],
    )
    types = sorted({t for policy in found for t in policy.event_types})
    cache.set(key, types, WANTED_SECONDS)
    return frozenset(types)


def forget_wanted(project: str) -> None:
    """Drop the project's cached event types: now, and again after commit (a reader in
    between may have refilled the cache from the rows before the change)."""
    key = _wanted_key(project)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


def reads(value: Event) -> str | None:
    if isinstance(value, ReplicationFinished):
        return None  # its project is a query: looked up only by `wanted`
    project = project_of(value)
    return _wanted_key(project) if project else None


def wanted(value: Event) -> bool:
    if isinstance(value, RetentionFinished) and not value.deleted:
        return False  # as Harbor: a run that deleted nothing is not a TAG_RETENTION
    project, event_type = project_of(value), event_type_of(value)
    return bool(project and event_type and event_type in wanted_types(project))


def _resource_url(repository: str, reference: str) -> str:
    host = _external_host()
    separator = "@" if reference.startswith("sha256:") else ":"
    return f"{host}/{repository}{separator}{reference}"


def _external_host() -> str:
    url: str = settings.HARBOR["EXTERNAL_URL"]
    return url.split("://", 1)[-1].rstrip("/")


def _repository(full_name: str, project: Project) -> dict[str, Any]:
    repository = fetch_one(Repository, "name = %s", [full_name])
    created = int(repository.creation_time.timestamp()) if repository else None
    return payloads.repository_data(full_name, public=project.public, created=created)


def _artifact_data(
    repository: str, digest: str, tags: tuple[str, ...], project: Project
) -> dict[str, Any]:
    resources = [
        {"digest": digest, "tag": tag, "resource_url": _resource_url(repository, tag)}
        for tag in tags
    ] or [{"digest": digest, "resource_url": _resource_url(repository, digest)}]
    return {"resources": resources, "repository": _repository(repository, project)}


def event_data(value: Event, project: Project) -> tuple[dict[str, Any], str]:
    """(Harbor's event_data, operator) of an event."""
    if isinstance(value, ArtifactPushed | ArtifactDeleted):
        return _artifact_data(value.repository, value.digest, value.tags, project), value.operator
    if isinstance(value, ArtifactPulled):
        return _artifact_data(value.repository, value.digest, (), project), ""
    if isinstance(value, QuotaExceeded):
        data = _artifact_data(value.repository, value.digest, (), project)
        data["resources"] = [{"digest": value.digest}]
        data["custom_attributes"] = {
            "Details": f"adding {format_bytes(value.adding)} of storage resource, which when "
            f"updated to current usage of {format_bytes(value.used)} will exceed the "
            f"configured upper limit of {format_bytes(value.hard)}."
        }
        return data, ""
    if isinstance(value, QuotaWarning):
        percent = value.used * 100 // value.hard if value.hard > 0 else 0
        return {
            "custom_attributes": {
                "Details": f"quota usage reach {percent}%: resource storage used "
                f"{format_bytes(value.used)} of {format_bytes(value.hard)}"
            },
            "repository": {"namespace": value.project},
        }, ""
    if isinstance(value, ReplicationFinished):
        policy = ReplicationPolicy.objects.filter(pk=value.policy_id).first()
        return {
            "replication": {
                "harbor_hostname": _external_host(),
                "job_status": value.status,
                "policy_id": value.policy_id,
                "execution_id": value.execution_id,
                "trigger_type": policy.trigger_type if policy else "",
                "override_mode": policy.override if policy else False,
                "total": value.total,
                "failed": value.failed,
                "execution_timestamp": int(time.time()),
            }
        }, "harbor-replication"
    if isinstance(value, RetentionFinished):
        return _retention_data(value), _trigger_of(value.execution_id)
    if isinstance(value, ScanFinished):
        data = _artifact_data(value.repository, value.digest, (), project)
        data["resources"][0]["scan_overview"] = {
            "report_id": value.report_id,
            "scan_status": value.status,
        }
        return data, ""
    return {}, ""


def _trigger_of(execution_id: int) -> str:
    """Harbor names a retention run's trigger (MANUAL, SCHEDULE) as its operator."""
    found = Execution.objects.filter(pk=execution_id).values_list("trigger", flat=True)
    return found.first() or ""


def _retention_data(value: RetentionFinished) -> dict[str, Any]:
    """Harbor's `retention` event data: the run's counts, the policy's rules, and one
    `deleted_artifact` per deleted tag (Harbor lists only its last one)."""
    policy = RetentionPolicy.objects.filter(pk=value.policy_id).only("rules").first()
    fields = ("template", "params", "tag_selectors", "scope_selectors")
    rules = [
        {key: rule[key] for key in fields if rule.get(key)}
        for rule in (policy.rules if policy else [])
    ]
    prefix = f"{value.project}/"
    return {
        "retention": {
            "total": value.total,
            "retained": value.retained,
            "harbor_hostname": _external_host(),
            "project_name": value.project,
            "retention_policy_id": value.policy_id,
            "retention_rule": rules,
            "result": value.status,
            "deleted_artifact": [
                {"type": "image", "status": value.status, "name_tag": name.removeprefix(prefix)}
                for name in value.deleted
            ],
        }
    }


_NEXT_SEQUENCES = (
    "INSERT INTO notification_target_state (policy_id, address, sequence, "
    "consecutive_failures, failing, last_status, last_error, last_trigger) VALUES {rows} "
    "ON CONFLICT (policy_id, address) DO UPDATE "
    "SET sequence = notification_target_state.sequence + 1, last_trigger = EXCLUDED.last_trigger "
    "RETURNING policy_id, address, sequence, failing"
)


def _next_sequences(targets: list[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, bool]]:
    """The next delivery number of each (policy, address), and whether it is marked
    failing: one statement, which holds the state rows' locks until the outbox delivery
    commits (concurrent events of one target queue there; taken in one order, so two
    events never wait for each other)."""
    pairs = sorted(set(targets))
    now = timezone.now()
    sql = _NEXT_SEQUENCES.format(rows=", ".join(["(%s, %s, 1, 0, false, '', '', %s)"] * len(pairs)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for pair in pairs for value in (*pair, now)])
        return {(int(p), str(a)): (int(n), bool(f)) for p, a, n, f in cursor.fetchall()}


def _deliveries(
    note: Notification, policies: list[WebhookPolicy], test: bool
) -> list[NewExecution]:
    sequences = _next_sequences([(p.pk, t["address"]) for p in policies for t in p.targets])
    new = []
    for policy in policies:
        for index, target in enumerate(policy.targets):
            sequence, failing = sequences[(policy.pk, target["address"])]
            body, content_type = payloads.render(
                note,
                notify_type=target.get("type", payloads.HTTP),
                payload_format=target.get("payload_format") or payloads.DEFAULT,
                project_id=policy.project_id,
                policy_id=policy.pk,
                sequence=sequence,
            )
            payload = body.decode()
            parameters = {
                "event_id": note.event_id,
                "event_type": note.event_type,
                "target": index,
                "address": target["address"],
                "sequence": sequence,
                "content_type": content_type,
                "payload": payload,
                "test": test,
            }
            new.append(
                NewExecution(
                    vendor_type=vendor_type_of(target),
                    parameters=parameters,
                    vendor_id=policy.pk,
                    extra_attrs={"event_type": note.event_type, "payload": payload},
                    # the policy as this transaction read it: its first attempt, sent by
                    # this worker right after the commit, reads it no more
                    prepared=DeliveryPolicy(policy.pk, policy.targets, failing),
                )
            )
    return new


def start_deliveries(
    note: Notification, policies: list[WebhookPolicy], *, test: bool = False, inline: bool = False
) -> list[int]:
    """An execution (with its one task) per policy and target, all written in two INSERTs
    and sent one after the other: after commit by this worker (`inline`: the outbox
    delivery, already a Celery task) or by one Celery message per job type (WEBHOOK,
    SLACK; the UI's test send)."""
    if not policies:
        return []
    executions = start_executions(
        _deliveries(note, policies, test), trigger=Trigger.EVENT, actor=NOTIFIER, inline=inline
    )
    return [execution.pk for execution in executions]


def notify(value: Event, key: str) -> None:
    project_name, event_type = project_of(value), event_type_of(value)
    if not project_name or not event_type:
        return
    policies = policies_for(project_name, event_type)
    project = fetch_one(Project, "name = %s", [project_name])
    if not policies or project is None:
        return
    data, operator = event_data(value, project)
    note = Notification(
        event_id=key.split(":", 1)[0],
        event_type=event_type,
        project=project_name,
        occur_at=int(time.time()),
        operator=operator,
        event_data=data,
    )
    start_deliveries(note, policies, inline=True)


def subscribe_all() -> None:
    for event_type in (
        ArtifactPushed,
        ArtifactPulled,
        ArtifactDeleted,
        QuotaWarning,
        QuotaExceeded,
        ReplicationFinished,
        ScanFinished,
        RetentionFinished,
    ):
        subscribe(
            event_type,
            notify,
            name=f"webhooks:{event_type.name}",
            durable=True,
            wants=wanted,
            reads=reads,
        )
