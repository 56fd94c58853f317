"""A persistent PostgreSQL connection that the server ended (a restart, a failover,
pg_terminate_backend) is replaced at the start of the next request instead of failing it,
and a live one is kept without a round trip (harbor_py/core/postgres/base.py)."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL sessions"),
]


@pytest.fixture
def other() -> Iterator[BaseDatabaseWrapper]:
    """A second connection, as another gunicorn thread holds between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _backend_pid(wrapper: BaseDatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _next_request(wrapper: BaseDatabaseWrapper) -> int:
    """What Django does between two requests (request_finished, request_started), then
    the first query of the new request: the backend pid that answered it."""
    wrapper.close_if_unusable_or_obsolete()
    return _backend_pid(wrapper)


def _terminate(pid: int, wrapper: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN)
    deadline = time.monotonic() + 5
    while not poller.poll(50) and time.monotonic() < deadline:
        pass  # the server's goodbye is on its way


def test_a_connection_the_server_ended_is_replaced_before_the_next_request(other):
    pid = _backend_pid(other)
    _terminate(pid, other)

    assert _next_request(other) != pid  # a new session answered; no error reached the caller


def test_a_live_connection_is_kept(other):
    pid, session = _backend_pid(other), other.connection
    assert other.is_usable()
    assert _next_request(other) == pid
    assert other.connection is session


def test_the_check_sends_nothing_to_the_server(other):
    pid = _backend_pid(other)
    assert other.is_usable()
    with connection.cursor() as cursor:  # what the server last ran for that session
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        assert cursor.fetchone()[0] == "SELECT pg_backend_pid()"  # Django's own: SELECT 1
