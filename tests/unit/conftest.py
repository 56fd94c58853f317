"""Unit tests use no database and no network: the guards below make a test that does fail,
so that `tests/unit` stays fast and runs anywhere. A test that needs PostgreSQL, Redis or a
real distribution belongs in `tests/integration` (see tests/README.md)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest

DB_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}
INET = {socket.AF_INET, socket.AF_INET6}


class NetworkUsedInUnitTest(AssertionError):
    pass


def _refuse(address: object) -> None:
    raise NetworkUsedInUnitTest(
        f"a unit test opened a network connection to {address!r}; "
        "tests that need PostgreSQL, Redis or a server belong in tests/integration"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    used = DB_FIXTURES & set(getattr(item, "fixturenames", ()))
    if used or item.get_closest_marker("django_db"):
        pytest.fail(
            f"{item.nodeid} asks for the database ({', '.join(sorted(used)) or 'django_db'}); "
            "move it to tests/integration",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Internet sockets may be created (libraries do at import) but not connected to or
    sent from, and psycopg does not connect; unix sockets and socketpairs stay usable."""
    connect, connect_ex, sendto = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.socket.sendto,
    )

    def guarded_connect(sock: socket.socket, address: object) -> None:
        if sock.family in INET:
            _refuse(address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: object) -> int:
        if sock.family in INET:
            _refuse(address)
        return connect_ex(sock, address)

    def guarded_sendto(sock: socket.socket, data: bytes, *args: object) -> int:
        if sock.family in INET:
            _refuse(args[-1])
        return sendto(sock, data, *args)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", guarded_sendto)

    # libpq opens its sockets in C, out of the reach of the socket guard.
    def refuse_postgres(*args: object, **kwargs: object) -> None:
        _refuse("PostgreSQL")

    monkeypatch.setattr(psycopg, "connect", refuse_postgres)
    monkeypatch.setattr(psycopg.Connection, "connect", refuse_postgres)
    monkeypatch.setattr(psycopg.AsyncConnection, "connect", refuse_postgres)
    yield


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    """Replaces the suite's Redis clean-up (tests/conftest.py): unit tests have no cache
    server to clean."""
