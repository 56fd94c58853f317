"""The job that delivers one notification to one target (jobs: an execution of vendor
type WEBHOOK or SLACK, vendor id the policy, with one task whose log keeps each attempt:
the request, the status code and an excerpt of the response).

Retries: on no answer, a time-out or a 5xx, up to MAX_ATTEMPTS with back-off
(BACKOFF_SECONDS); never on a 4xx, a refused address or redirect. Each attempt is one run
of the task: a retry is re-scheduled with a countdown (jobs.context.RetryLater), so the
wait between attempts holds no worker slot. A target whose
deliveries failed FAILING_AFTER times in a row is marked failing (API and UI show it) and
gets one attempt per event, no retries, until a delivery succeeds again. A worker killed
mid-delivery leaves the task running under a stale lease: jobs run it again (same event
id, same sequence, same body), so the receiver gets it at least once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from harbor_py.core import secretbox
from jobs.context import JobContext, RetryLater
from webhooks import sender
from webhooks.payloads import SLACK

VENDOR_TYPES = ("WEBHOOK", "SLACK")
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = (1.0, 3.0, 9.0)  # before the 2nd, 3rd, 4th attempt
FAILING_AFTER = 5


class DeliveryFailed(Exception):
    pass


def vendor_type_of(target: dict[str, Any]) -> str:
    return "SLACK" if target.get("type") == SLACK else "WEBHOOK"


def _secret(target: dict[str, Any], key: str) -> str:
    stored = target.get(key) or ""
    return secretbox.decrypt(stored) if stored else ""


def request_headers(params: dict[str, Any], target: dict[str, Any], body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": params["content_type"],
        "X-Harbor-Event-Id": params["event_id"],
        "X-Harbor-Event-Type": params["event_type"],
        "X-Harbor-Sequence": str(params["sequence"]),
    }
    if auth := _secret(target, "auth_header"):
        headers["Authorization"] = auth
    if secret := _secret(target, "signing_secret"):
        headers[sender.SIGNATURE_HEADER] = sender.signature(secret, body)
    return headers


_POLICY = (
    "SELECT p.id, p.targets, EXISTS (SELECT 1 FROM notification_target_state s "
    "WHERE s.policy_id = p.id AND s.address = %s AND s.failing) FROM notification_policy p "
    "WHERE p.id = (SELECT vendor_id FROM execution WHERE id = %s)"
)


@dataclass(frozen=True)
class DeliveryPolicy:
    """What a delivery needs of its policy: its targets' current settings, and whether
    the target it sends to is marked failing."""

    pk: int
    targets: list[dict[str, Any]]
    target_failing: bool


def _policy(execution_id: int, address: str) -> DeliveryPolicy | None:
    """The execution's policy (its vendor id) with its targets, and whether its target at
    `address` is marked failing: one plain SELECT (harbor_py.core.db says why)."""
    with connection.cursor() as cursor:
        cursor.execute(_POLICY, [address, execution_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, targets, failing = row
    decoded = json.loads(targets) if isinstance(targets, str) else targets
    return DeliveryPolicy(int(pk), decoded, bool(failing))


_SUCCEEDED = (
    "UPDATE notification_target_state SET consecutive_failures = 0, failing = %s, "
    "last_status = %s, last_error = '', last_delivery = %s WHERE policy_id = %s AND address = %s"
)
_FAILED = (
    "UPDATE notification_target_state SET consecutive_failures = consecutive_failures + 1, "
    "failing = (consecutive_failures + 1 >= %s), last_status = %s, last_error = %s, "
    "last_delivery = %s WHERE policy_id = %s AND address = %s RETURNING failing"
)


def _record(
    context: JobContext,
    policy_id: int,
    address: str,
    outcome: sender.Outcome | None,
    error: str,
) -> bool:
    """Update the target's state after a delivery (one statement; after a success, in
    the statement that ends the run); returns whether it is failing now."""
    now = timezone.now()
    if outcome is not None and outcome.ok:
        context.with_end(_SUCCEEDED, [False, str(outcome.status), now, policy_id, address])
        return False
    status = str(outcome.status) if outcome is not None and outcome.status else "error"
    with connection.cursor() as cursor:
        cursor.execute(_FAILED, [FAILING_AFTER, status, error[:1000], now, policy_id, address])
        row = cursor.fetchone()
    return bool(row and row[0])


def _lines(first: str, second: str) -> str:
    """Two log lines in one JobContext.log call (which stamps the first)."""
    return f"{first}\n{timezone.now().isoformat(timespec='seconds')} {second}"


def run(context: JobContext) -> dict[str, Any]:
    params = context.parameters
    address = params["address"]
    policy = context.prepared
    if not isinstance(policy, DeliveryPolicy):  # a retry, a test send: read it now
        policy = _policy(context.execution_id, address)
    results = {"event_type": params["event_type"], "payload": params["payload"]}
    if policy is None:
        raise DeliveryFailed("the policy was deleted before the event was sent")
    # the target's current settings (auth header, certificate check, secret), by address
    target = next((t for t in policy.targets if t.get("address") == address), None)
    if target is None:
        raise DeliveryFailed(f"the policy has no target {address} any more")
    body = params["payload"].encode()
    headers = request_headers(params, target, body)
    attempts = 1 if policy.target_failing else MAX_ATTEMPTS
    attempt = min(context.attempt, attempts)
    if attempts == 1:
        context.log(f"target {address} is marked failing: one attempt, no retries")
    request = (
        f"attempt {attempt}/{attempts}: POST {address} {params['event_type']} "
        f"event {params['event_id']} sequence {params['sequence']} "
        f"({len(body)} bytes, {headers['Content-Type']})"
    )
    outcome: sender.Outcome | None
    # the request and its answer in one log write (one statement less per attempt)
    try:
        outcome = sender.send(address, body, headers, verify=not target.get("skip_cert_verify"))
    except sender.Refused as exc:
        outcome, error = None, f"refused: {exc}"
        context.log(_lines(request, error))
    else:
        error = outcome.error
        answer = (
            f"response: {outcome.status if outcome.status is not None else 'none'}"
            + (f" ({outcome.error})" if outcome.error else "")
            + (f" body: {outcome.excerpt!r}" if outcome.excerpt else "")
        )
        if not outcome.ok and outcome.retryable and attempt < attempts:
            pause = BACKOFF_SECONDS[min(attempt - 1, len(BACKOFF_SECONDS) - 1)]
            context.log(_lines(request, f"{answer}; retrying in {pause:g} s"))
            # re-scheduled, not slept: the worker slot is free until then (jobs.runner)
            raise RetryLater(pause, f"{error}; attempt {attempt + 1} in {pause:g} s")
        context.log(_lines(request, answer))
    failing = _record(context, policy.pk, address, outcome, error)
    if outcome is None or not outcome.ok:
        if failing:
            context.log(f"target {address} is marked failing")
        raise DeliveryFailed(error or f"HTTP {outcome.status if outcome else 'none'}")
    return {**results, "status_code": outcome.status}
