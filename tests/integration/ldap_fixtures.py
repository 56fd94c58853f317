"""Fixtures for the LDAP tests (import them into the test module): real slapd directories
shared by the whole session (tests.ldap_server.shared_slapd), and helpers to switch the
instance to ldap_auth against one of them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from accounts import ldap_client
from harbor_py.core import configuration
from tests.ldap_server import AD, OPENLDAP, LdapServer, shared_slapd

__all__ = [
    "ad",
    "blackhole",
    "connections",
    "ldap_mode",
    "openldap",
    "openldap_tls",
    "use_directory",
]


@pytest.fixture(scope="session")
def openldap() -> LdapServer:
    return shared_slapd(OPENLDAP)


@pytest.fixture(scope="session")
def openldap_tls() -> LdapServer:
    return shared_slapd(OPENLDAP, ldaps=True)


@pytest.fixture(scope="session")
def ad() -> LdapServer:
    return shared_slapd(AD)


@pytest.fixture
def use_directory(db) -> Callable[..., None]:
    """use_directory(server, **overrides): auth_mode ldap_auth against `server`."""

    def use(server: LdapServer, **overrides: object) -> None:
        values = {"auth_mode": "ldap_auth", **server.harbor_settings(**overrides)}
        configuration.store(configuration.validate(values))

    return use


@pytest.fixture
def ldap_mode(openldap, use_directory, admin) -> LdapServer:
    """ldap_auth against the OpenLDAP directory, with the local admin present."""
    use_directory(openldap)
    return openldap


@pytest.fixture
def connections(monkeypatch) -> list[str]:
    """The URL of every directory connection made (to see what the caches save)."""
    made: list[str] = []
    original = ldap_client.Directory.connect.__func__

    def counting(cls, settings):
        directory = original(cls, settings)
        made.append(directory.url)
        return directory

    monkeypatch.setattr(ldap_client.Directory, "connect", classmethod(counting))
    return made


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An ldap:// URL whose server accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"ldap://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    sock.close()
