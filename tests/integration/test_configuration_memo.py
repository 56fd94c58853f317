"""Run-time settings are read once per request, and a request sees its own writes."""

from __future__ import annotations

import pytest

from harbor_py.core import configuration

pytestmark = pytest.mark.django_db


@pytest.fixture
def reads(monkeypatch):
    counted: list[int] = []
    real = configuration._read

    def counting() -> dict:
        counted.append(1)
        return real()

    monkeypatch.setattr(configuration, "_read", counting)
    return counted


def test_a_request_reads_the_settings_once(reads):
    with configuration.per_request():
        configuration.get("read_only")
        configuration.get("token_expiration")
        configuration.snapshot()
    assert len(reads) == 1


def test_outside_a_request_every_read_goes_to_the_cache(reads):
    configuration.get("read_only")
    configuration.get("read_only")
    assert len(reads) == 2


def test_a_request_sees_its_own_writes_and_the_next_request_too(reads):
    with configuration.per_request():
        assert configuration.get("token_expiration") == 30
        configuration.store({"token_expiration": 45})
        assert configuration.get("token_expiration") == 45
    with configuration.per_request():
        assert configuration.get("token_expiration") == 45


def test_requests_do_not_share_their_memo(reads):
    with configuration.per_request():
        configuration.get("read_only")
    with configuration.per_request():
        configuration.get("read_only")
    assert len(reads) == 2
