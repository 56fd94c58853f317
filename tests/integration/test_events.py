"""Domain events (harbor_py.core.events): published after commit only, delivered from the
outbox when the delivery after commit is lost, at least once with a dedupe key."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import TestCase

from harbor_py.core import events, outbox, redis_conn
from harbor_py.core.actor import Actor
from harbor_py.core.events import DuplicateRegistration, publish, subscribe
from harbor_py.models import EventOutbox
from jobs.models import Execution, Trigger
from registry.events import ArtifactPushed, TagCreated
from replication import services, tasks
from replication.models import RegistryEndpoint, ReplicationPolicy

pytestmark = pytest.mark.django_db
DIGEST = "sha256:" + "b" * 64


def _event_policy() -> ReplicationPolicy:
    endpoint = RegistryEndpoint.objects.create(name="r", type="harbor", url="http://127.0.0.1:9")
    values = {"name": "p", "dest_registry": endpoint, "trigger_type": "event_based"}
    return services.create_policy(
        values={**values, "filters": [{"type": "name", "value": "proj/**"}]},
        actor=Actor(username="admin"),
    )


def _pushed(repository: str = "proj/app") -> ArtifactPushed:
    return ArtifactPushed("proj", repository, DIGEST, ("v1",), "admin")


@pytest.fixture
def fired(monkeypatch) -> list[tuple]:
    """The replication runs the event consumer asked for: (policy id, event, key)."""
    calls: list[tuple] = []
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *args: calls.append(args))
    return calls


def _age_outbox() -> None:
    """Make the rows look left over, as the sweep finds them some seconds later."""
    past = dt.datetime.now(dt.UTC) - outbox.LEFT_OVER_AFTER - dt.timedelta(seconds=1)
    EventOutbox.objects.update(created=past)


def test_a_rolled_back_transaction_publishes_nothing(fired):
    _event_policy()
    seen: list[TagCreated] = []
    subscribe(TagCreated, lambda e, key: seen.append(e), name="test:in-process")
    try:
        with (
            TestCase.captureOnCommitCallbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            publish(_pushed())
            publish(TagCreated("proj", "proj/app", "v1", DIGEST, "admin"))
            assert EventOutbox.objects.count() == 1  # written with the change...
            raise RuntimeError("the push fails after publishing")
    finally:
        events.unsubscribe("test:in-process")
    assert EventOutbox.objects.count() == 0  # ...and gone with it
    assert fired == [] and seen == []


def test_an_event_is_delivered_after_commit_and_leaves_the_outbox(fired):
    policy = _event_policy()
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        publish(_pushed())
        assert fired == []  # not before the commit
    assert [(pk, event["tags"]) for pk, event, _ in fired] == [(policy.pk, ["v1"])]
    assert EventOutbox.objects.count() == 0


def test_an_event_nobody_wants_writes_no_outbox_row(fired):
    _event_policy()  # its filter matches proj/** only
    with TestCase.captureOnCommitCallbacks(execute=True):
        publish(_pushed("other/app"))
    assert EventOutbox.objects.count() == 0 and fired == []


def test_a_policy_written_applies_to_the_next_push_though_the_policies_are_cached(fired):
    """A push reads the event policies from the cache (replication.policy_cache); a policy
    created, disabled or deleted applies to the very next push all the same."""

    def rows_after_push() -> int:
        publish(_pushed())
        return EventOutbox.objects.count()

    assert rows_after_push() == 0  # no policy: none wants it, and the empty list is cached
    policy = _event_policy()
    assert rows_after_push() == 1
    admin = Actor(username="admin")
    services.update_policy(policy=policy, values={"enabled": False}, actor=admin)
    assert rows_after_push() == 1
    services.update_policy(policy=policy, values={"enabled": True}, actor=admin)
    assert rows_after_push() == 2
    services.delete_policy(policy=policy, actor=admin)
    assert rows_after_push() == 2


def test_a_lost_delivery_is_made_by_the_sweep(fired, monkeypatch):
    """The broker is down at commit (the task that would deliver is never queued): the
    push still succeeds, the event waits in the outbox and the sweep delivers it."""
    policy = _event_policy()

    def broker_down(*args):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(events.deliver_pending, "delay", broker_down)
    with TestCase.captureOnCommitCallbacks(execute=True):
        publish(_pushed())
    assert fired == [] and EventOutbox.objects.count() == 1
    assert cache.get(events.WAKE_KEY) is None  # the next commit tries to wake it again
    assert events.sweep_events() == 0  # too young: its own delivery may still come
    _age_outbox()
    assert events.sweep_events() == 1
    assert [pk for pk, _, _ in fired] == [policy.pk]
    assert EventOutbox.objects.count() == 0


@pytest.fixture
def wake_ups(monkeypatch) -> list[None]:
    """The delivery messages sent (queued, not run)."""
    sent: list[None] = []
    monkeypatch.setattr(events.deliver_pending, "delay", lambda: sent.append(None))
    return sent


def _commit_push(tag: str) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        publish(ArtifactPushed("proj", "proj/app", DIGEST, (tag,), "admin"))


def test_a_burst_of_commits_wakes_one_delivery_that_takes_every_row(fired, wake_ups):
    """The first commit sends the delivery's message; the commits after it, while that
    message has not started, send none (one SET NX each). The delivery clears the key
    before it reads the rows, so it takes theirs too; the next commit wakes it again."""
    policy = _event_policy()
    for n in range(5):
        _commit_push(f"v{n}")
    assert len(wake_ups) == 1 and EventOutbox.objects.count() == 5 and fired == []
    assert events.deliver_pending() == 5
    assert [event["tags"] for pk, event, _ in fired] == [[f"v{n}"] for n in range(5)]
    assert all(pk == policy.pk for pk, _, _ in fired) and not EventOutbox.objects.exists()
    _commit_push("v5")
    assert len(wake_ups) == 2  # the delivery that started cleared the key
    assert events.deliver_pending() == 1 and len(fired) == 6


def test_a_lost_wake_up_is_made_good_by_the_sweep(fired, wake_ups):
    """The message of a wake-up is lost (its worker died before it started): the commits
    within WAKE_SECONDS send none, and the sweep delivers their rows; once the key has
    expired, a commit sends a message again."""
    _event_policy()
    for n in range(3):
        _commit_push(f"v{n}")
    assert len(wake_ups) == 1 and EventOutbox.objects.count() == 3
    ttl = redis_conn.client(timeout=5).ttl(cache.make_key(events.WAKE_KEY))
    assert 0 < ttl <= events.WAKE_SECONDS  # a lost message holds the next one back that long
    _age_outbox()
    assert events.sweep_events() == 3 and len(fired) == 3
    cache.delete(events.WAKE_KEY)  # what its expiry does
    _commit_push("v3")
    assert len(wake_ups) == 2


def test_a_pending_delivery_leaves_a_failing_row_to_the_sweep(fired, monkeypatch):
    """A row whose consumer fails is not taken again by the same delivery (it would fail
    again now): the rows after it are delivered, it waits for the sweep."""
    policy = _event_policy()
    monkeypatch.setattr(events.deliver_pending, "delay", lambda: None)
    calls = iter([lambda *a: 1 / 0])
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *a: next(calls, fired.append)(a))
    _commit_push("v0")
    _commit_push("v1")
    assert events.deliver_pending() == 1
    assert [event["tags"] for _, event, _ in fired] == [["v1"]]
    assert EventOutbox.objects.get().attempts == 1
    assert events.deliver_pending() == 0  # the sweep's now
    _age_outbox()
    assert events.sweep_events() == 1 and [pk for pk, _, _ in fired] == [policy.pk] * 2


def test_a_delivery_that_dies_midway_is_made_again(fired, monkeypatch):
    """The worker dies inside the consumer: the delivery's transaction never commits, the
    row stays, and the sweep delivers the event again."""
    policy = _event_policy()

    def worker_lost(*args):
        raise SystemExit("worker killed")

    monkeypatch.setattr(tasks.replicate_event, "delay", worker_lost)
    with pytest.raises(SystemExit), TestCase.captureOnCommitCallbacks(execute=True):
        publish(_pushed())
    row = EventOutbox.objects.get()
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *args: fired.append(args))
    _age_outbox()
    assert events.sweep_events() == 1
    assert fired == [(policy.pk, fired[0][1], row.key)]


def test_a_consumer_that_fails_keeps_its_row_for_the_sweep(fired, monkeypatch):
    policy = _event_policy()
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *a: 1 / 0)
    with TestCase.captureOnCommitCallbacks(execute=True):
        publish(_pushed())
    assert EventOutbox.objects.get().attempts == 1
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *args: fired.append(args))
    _age_outbox()
    assert events.sweep_events() == 1 and [pk for pk, _, _ in fired] == [policy.pk]


def test_an_event_delivered_twice_starts_one_replication():
    """At least once: the consumer dedupes by the delivery key."""
    policy = _event_policy()
    event = {"operation": "push", "repository": "proj/app", "digest": DIGEST, "tags": ["v1"]}
    with TestCase.captureOnCommitCallbacks():  # the runs themselves are not started here
        tasks.replicate_event(policy.pk, event, "event-1:replication")
        tasks.replicate_event(policy.pk, event, "event-1:replication")
        tasks.replicate_event(policy.pk, event, "event-2:replication")
    runs = Execution.objects.filter(vendor_id=policy.pk, trigger=Trigger.EVENT)
    assert runs.count() == 2


def test_a_name_is_registered_once():
    with pytest.raises(DuplicateRegistration):
        events.event("artifact_pushed")(type("Again", (events.Event,), {}))
    with pytest.raises(DuplicateRegistration):
        subscribe(ArtifactPushed, lambda e, key: None, name="replication.triggers:artifact_pushed")


def test_events_survive_the_round_trip_through_json():
    value = _pushed()
    assert events.decode(value.name, events.encode(value)) == value


SETTINGS = "harbor_py.settings_test"
KILLED_WORKER = """
import os, signal, sys
import django
django.setup()
from harbor_py.core import events
from replication import tasks

def killed(*args):
    print("in the consumer", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # the worker dies holding the row's lock

tasks.replicate_event.delay = killed
events.deliver_pending()
"""


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_during_delivery_leaves_the_event_to_the_sweep(fired, monkeypatch):
    """A real process delivers the committed row and is killed (SIGKILL) inside the
    consumer: PostgreSQL rolls its delivery back, the row stays, and the sweep here (the
    next worker) delivers the event."""
    policy = _event_policy()
    monkeypatch.setattr(events.deliver_pending, "delay", lambda: None)  # queued, not run
    publish(_pushed())  # outside a transaction: committed at once
    row = EventOutbox.objects.get()
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    worker = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER],
        env={
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "harbor_py.settings_test",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    assert "in the consumer" in worker.stdout
    assert EventOutbox.objects.filter(pk=row.pk).exists() and fired == []
    _age_outbox()
    assert events.sweep_events() == 1
    assert fired == [(policy.pk, fired[0][1], row.key)]
    assert not EventOutbox.objects.exists()


def test_beat_sweeps_the_outbox_with_a_task_the_worker_knows():
    from django_celery_beat.models import PeriodicTask

    from harbor_py.celery import app

    app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    sweep = PeriodicTask.objects.get(name="harbor: sweep the event outbox")
    assert sweep.enabled and sweep.interval.every == outbox.SWEEP_SECONDS
    assert sweep.task in app.tasks and events.deliver_pending.name in app.tasks
    assert events.deliver_events.name in app.tasks  # an older release's messages


def test_a_coalescing_consumer_is_called_once_per_key_and_commit():
    """Retention deletes dozens of artifacts of a project in one transaction: a consumer
    that coalesces (the content-trust generation's bump) runs once per project, with the
    first event; a savepoint rolled back takes its registration with it."""
    seen: list[str] = []
    subscribe(
        TagCreated,
        lambda e, key: seen.append(f"{e.project}:{e.tag}"),
        name="test:coalesced",
        coalesce=lambda e: e.project,
    )
    try:
        with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
            for project, tag in (("a", "1"), ("a", "2"), ("b", "3"), ("a", "4")):
                publish(TagCreated(project, f"{project}/app", tag, DIGEST, "admin"))
        assert seen == ["a:1", "b:3"]
        seen.clear()
        with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
            with pytest.raises(RuntimeError), transaction.atomic():
                publish(TagCreated("a", "a/app", "5", DIGEST, "admin"))
                raise RuntimeError("rolled back")
            publish(TagCreated("a", "a/app", "6", DIGEST, "admin"))
        assert seen == ["a:6"]
    finally:
        events.unsubscribe("test:coalesced")
