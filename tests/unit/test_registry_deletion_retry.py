"""Manifest DELETEs that distribution answers with a transient 5xx are retried (a unit
test of the retry around the real client; the race itself needs concurrent pushes)."""

from __future__ import annotations

import httpx
import pytest

from harbor_py.core.errors import DomainError
from registry import deletion


def _answers(monkeypatch, statuses: list[int]) -> list[int]:
    calls: list[int] = []

    def fake_request(method, repository, path, actions, **kwargs):
        calls.append(1)
        return httpx.Response(statuses[len(calls) - 1])

    monkeypatch.setattr(deletion.upstream, "request", fake_request)
    monkeypatch.setattr(deletion.time, "sleep", lambda seconds: None)
    return calls


def test_a_transient_5xx_is_retried(monkeypatch):
    calls = _answers(monkeypatch, [500, 202])
    deletion._delete_manifests("p/app", ["sha256:" + "a" * 64])
    assert len(calls) == 2


def test_a_lasting_5xx_fails_after_the_retries(monkeypatch):
    calls = _answers(monkeypatch, [500, 503, 500])
    with pytest.raises(DomainError):
        deletion._delete_manifests("p/app", ["sha256:" + "a" * 64])
    assert len(calls) == deletion.RETRIES


def test_a_4xx_is_final(monkeypatch):
    calls = _answers(monkeypatch, [400])
    with pytest.raises(DomainError):
        deletion._delete_manifests("p/app", ["sha256:" + "a" * 64])
    assert len(calls) == 1
