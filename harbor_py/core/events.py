"""Domain events: small typed values that services publish and consumers subscribe to.

An event type is a frozen dataclass declared with `@event("name")` in the `events.py` of
the app that publishes it; consumers subscribe in their AppConfig.ready. `publish` runs in
the publisher's transaction and delivers only after it commits:

- an in-process consumer is called after commit, in the publishing process, best effort;
- a durable consumer gets a row in the outbox (harbor_py.core.outbox), written in the same
  transaction as the change, and delivered by a Celery task that the commit wakes (one
  wake-up per burst of commits, `wake`; and by a periodic sweep for rows a lost task or
  worker left): at least once, with the row's key as the dedupe key. Its `wants` filter
  runs in the publisher's transaction, so that an event nobody wants costs no write.

docs/events.md lists the events, their payloads and the guarantees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from celery import shared_task
from django.core.cache import cache
from django.db import connection, transaction

from harbor_py.core import outbox, read_ahead

logger = logging.getLogger(__name__)


class Event:
    """The base of the event types: frozen dataclasses of plain values (str, int, bool,
    tuples of them), so that they survive a round trip through JSON."""

    name: ClassVar[str]


E = TypeVar("E", bound=Event)
Handler = Callable[[Any, str], None]  # (the event, its delivery key)


class DuplicateRegistration(Exception):
    """An event name or a consumer name registered twice."""


@dataclass(frozen=True)
class Consumer:
    name: str
    event_type: type[Event]
    handle: Handler
    durable: bool
    wants: Callable[[Any], bool] | None = None
    # The cache key that `wants` reads for an event, if any (through read_ahead.get):
    # publish reads every such key of the event's consumers in one round trip.
    reads: Callable[[Any], str | None] | None = None
    coalesce: Callable[[Any], Hashable] | None = None


_EVENT_TYPES: dict[str, type[Event]] = {}
_CONSUMERS: dict[str, Consumer] = {}
_BY_TYPE: dict[type[Event], list[Consumer]] = {}


def event(name: str) -> Callable[[type[E]], type[E]]:
    """Declare an event type under its wire name (the outbox and docs/events.md use it)."""

    def declare(cls: type[E]) -> type[E]:
        if name in _EVENT_TYPES:
            raise DuplicateRegistration(f"the event {name} is declared twice")
        cls.name = name
        _EVENT_TYPES[name] = cls
        return cls

    return declare


def event_types() -> dict[str, type[Event]]:
    return dict(_EVENT_TYPES)


def subscribe(
    event_type: type[Event],
    handler: Handler,
    *,
    name: str,
    durable: bool = False,
    wants: Callable[[Any], bool] | None = None,
    reads: Callable[[Any], str | None] | None = None,
    coalesce: Callable[[Any], Hashable] | None = None,
) -> None:
    """Call `handler(event, key)` after each commit that published an `event_type`.
    `name` identifies the consumer in the outbox: keep it stable across releases.
    `coalesce` (in-process consumers): the handler is called once per commit for the
    events of equal `coalesce(event)`, with the first of them (a retention batch deletes
    dozens of artifacts of one project in a transaction: one bump of its generation)."""
    if name in _CONSUMERS:
        raise DuplicateRegistration(f"the event consumer {name} is registered twice")
    if coalesce is not None and durable:
        raise ValueError("only in-process consumers coalesce")
    consumer = Consumer(name, event_type, handler, durable, wants, reads, coalesce)
    _CONSUMERS[name] = consumer
    _BY_TYPE.setdefault(event_type, []).append(consumer)


def unsubscribe(name: str) -> None:
    consumer = _CONSUMERS.pop(name)
    _BY_TYPE[consumer.event_type].remove(consumer)


def consumer_named(name: str) -> Consumer | None:
    return _CONSUMERS.get(name)


def has_consumers(event_type: type[Event]) -> bool:
    """Whether publishing `event_type` reaches anyone: lets a publisher skip building
    events (and the queries behind them) that nobody consumes."""
    return bool(_BY_TYPE.get(event_type))


def encode(value: Event) -> dict[str, Any]:
    return dataclasses.asdict(value)  # type: ignore[call-overload]  # event types are dataclasses


def decode(name: str, payload: dict[str, Any]) -> Event:
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in payload.items()}
    return _EVENT_TYPES[name](**fields)


def publish(value: Event) -> None:
    """Deliver `value` to its consumers after the current transaction commits (at once
    outside a transaction); nothing when it rolls back."""
    consumers = _BY_TYPE.get(type(value))
    if not consumers:
        return
    event_id = uuid.uuid4().hex
    durable = _wanting(value, [c for c in consumers if c.durable])
    if durable:
        outbox.write(value.name, encode(value), event_id, [c.name for c in durable])
        transaction.on_commit(wake, robust=True)
    local = [c for c in consumers if not c.durable and not _coalesced(c, value, event_id)]
    if local:
        transaction.on_commit(lambda: _call(value, event_id, local), robust=True)


def _wanting(value: Event, consumers: Sequence[Consumer]) -> list[Consumer]:
    keys = {key for c in consumers if c.reads and (key := c.reads(value))}
    with read_ahead.ahead(keys):
        return [c for c in consumers if c.wants is None or c.wants(value)]


class _Delivery:
    """A coalescing consumer's call after the commit, for the events of one key; pending
    until it ran (a test's captured callbacks run while Django still lists them)."""

    def __init__(self, value: Event, event_id: str, consumer: Consumer, key: Hashable) -> None:
        self.value, self.event_id, self.consumer, self.key = value, event_id, consumer, key
        self.ran = False

    def pending(self, consumer: Consumer, key: Hashable) -> bool:
        return not self.ran and self.consumer is consumer and self.key == key

    def __call__(self) -> None:
        self.ran = True
        _call(self.value, self.event_id, [self.consumer])


def _coalesced(consumer: Consumer, value: Event, event_id: str) -> bool:
    """Whether `consumer` (one that coalesces) is already to be called for an event of
    the same key when the current transaction commits; else its call is registered. Django
    holds the calls still to run: a rolled-back savepoint drops its own (and the next event
    registers one again), a commit takes each out before it runs it."""
    if consumer.coalesce is None or not connection.in_atomic_block:
        return False
    key = consumer.coalesce(value)
    for entry in connection.run_on_commit:  # (savepoint ids, the call, robust)
        call = entry[1]
        if isinstance(call, _Delivery) and call.pending(consumer, key):
            return True
    transaction.on_commit(_Delivery(value, event_id, consumer, key), robust=True)
    return True


def _call(value: Event, event_id: str, consumers: Sequence[Consumer]) -> None:
    for consumer in consumers:
        try:
            consumer.handle(value, f"{event_id}:{consumer.name}")
        except Exception:  # one consumer's failure must not keep the event from the others
            logger.exception("event consumer %s failed on %s", consumer.name, value.name)


def _deliver_row(consumer_name: str, event_name: str, payload: dict[str, Any], key: str) -> None:
    consumer = _CONSUMERS.get(consumer_name)
    if consumer is None:
        logger.warning(
            "no event consumer %s any more: %s %s dropped", consumer_name, event_name, key
        )
        return
    consumer.handle(decode(event_name, payload), key)


# Set by the commit that sent the delivery's message, cleared by the delivery when it starts:
# while it is set, a message is on its way and further commits send none.
WAKE_KEY = "events:outbox:wake"
# How long a message that was lost (its worker died before it started) holds back the
# next one; the sweep delivers the rows meanwhile.
WAKE_SECONDS = 10


def wake() -> None:
    """After a commit that wrote outbox rows: start a delivery unless one is on its way
    (WAKE_KEY set and not yet cleared by it). That delivery sees these rows: it clears the
    key before it reads them, and the key was there after they committed. So a burst of
    commits costs one Redis SET NX each and one Celery message, not a message each."""
    try:
        if not cache.add(WAKE_KEY, 1, timeout=WAKE_SECONDS):
            return
    except Exception:  # Redis is down: a message then is the best this commit can do
        logger.warning("could not set the outbox's wake-up key", exc_info=True)
    try:
        deliver_pending.delay()
    except Exception:  # a broker that is down must not fail the publisher; the sweep delivers
        logger.warning("could not wake the outbox delivery; the sweep delivers", exc_info=True)
        with contextlib.suppress(Exception):
            cache.delete(WAKE_KEY)  # the next commit tries again


@shared_task(acks_late=True, ignore_result=True)
def deliver_pending() -> int:
    """Deliver the pending outbox rows, oldest first, until none is left (a wake-up)."""
    try:
        cache.delete(WAKE_KEY)  # commits from now on wake another delivery
    except Exception:  # Redis is down: deliver all the same (the key expires by itself)
        logger.warning("could not clear the outbox's wake-up key", exc_info=True)
    delivered, more = outbox.deliver_pending(_deliver_row)
    if more:
        wake()  # the rest in a message of its own: other tasks of this worker go between
    return delivered


@shared_task(acks_late=True, ignore_result=True)
def deliver_events(ids: list[int]) -> int:
    """Deliver the outbox rows that one commit wrote (the message of an older release:
    its messages may still be queued during an upgrade)."""
    return outbox.deliver(ids, _deliver_row)


@shared_task(ignore_result=True)
def sweep_events() -> int:
    """Deliver the rows that no delivery took (a lost task, a worker killed mid-way, a
    broker that was down at commit); beat runs it every SWEEP_SECONDS."""
    return outbox.deliver(outbox.left_over(), _deliver_row)
