"""The guards of tests/unit/conftest.py: a unit test cannot reach the database or the network."""

from __future__ import annotations

import socket

import psycopg
import pytest
from django.db import connection

from tests.unit.conftest import NetworkUsedInUnitTest


def test_a_tcp_connection_is_refused() -> None:
    with pytest.raises(NetworkUsedInUnitTest, match="tests/integration"):
        socket.create_connection(("127.0.0.1", 6379), timeout=1)


def test_a_udp_datagram_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NetworkUsedInUnitTest),
    ):
        sock.sendto(b"x", ("127.0.0.1", 514))


def test_postgresql_is_refused_outside_django_too() -> None:
    with pytest.raises(NetworkUsedInUnitTest):
        psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=1)


def test_the_database_is_refused() -> None:
    with pytest.raises(RuntimeError, match="Database access not allowed"):
        connection.ensure_connection()


def test_unix_sockets_stay_usable() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
