"""The HTTP client from the gate to distribution, authenticated with internal tokens.

One pooled keep-alive client per process; bytes of manifests only (blob bytes never come
through Python: nginx sends them to distribution directly).
"""

from __future__ import annotations

import threading
import time

import httpx
from django.conf import settings

from accounts.tokens import Scope, mint

CORE_SUBJECT = "harbor-core"
_client: httpx.Client | None = None
_client_lock = threading.Lock()
_tokens: dict[tuple[str, frozenset[str]], tuple[str, float]] = {}


def client() -> httpx.Client:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                url = settings.HARBOR["REGISTRY_URL"]
                if url.startswith("unix://"):
                    transport = httpx.HTTPTransport(uds=url[len("unix://") :])
                    base_url = "http://registry"
                else:
                    transport = httpx.HTTPTransport()
                    base_url = url
                _client = httpx.Client(
                    transport=transport,
                    base_url=base_url,
                    timeout=httpx.Timeout(60.0, connect=5.0),
                    limits=httpx.Limits(max_keepalive_connections=32, max_connections=64),
                )
    return _client


def internal_token(repository: str, actions: frozenset[str]) -> str:
    """A short-lived token for exactly this repository and actions, reused until near expiry."""
    key = (repository, actions)
    cached = _tokens.get(key)
    now = time.monotonic()
    if cached and cached[1] > now:
        return cached[0]
    token, expires_in, _ = mint(CORE_SUBJECT, [Scope("repository", repository, actions)], 300)
    if len(_tokens) > 10_000:
        _tokens.clear()
    _tokens[key] = (token, now + expires_in - 60)
    return token


def request(
    method: str,
    repository: str,
    path: str,
    actions: frozenset[str],
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    all_headers = {"Authorization": f"Bearer {internal_token(repository, actions)}"}
    all_headers.update(headers or {})
    return client().request(method, path, headers=all_headers, content=content)


def ping() -> None:
    """Raise unless distribution answers (401 without a token is a healthy answer)."""
    response = client().get("/v2/")
    if response.status_code not in (200, 401):
        raise RuntimeError(f"registry answered {response.status_code}")
