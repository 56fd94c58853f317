"""The docker-registry adapter: any registry that speaks the distribution v2 API.

Bearer token auth: a 401's WWW-Authenticate challenge sends it to the registry's token
realm with the endpoint's Basic credentials, and tokens are cached per set of scopes until
shortly before they expire (a registry that challenges Basic gets the credentials on each
request). Repositories come
from /v2/_catalog, artifacts from the tags (one HEAD per tag); tags cannot be deleted alone.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from typing import Any

import httpx

from replication.adapters.base import Grants, SourceArtifact, TransferError
from replication.adapters.v2 import V2Client, next_link, refusal, scope_strings, verification

CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
# A token without `expires_in` lives 60 s (the distribution token spec); one is renewed
# this long before it expires, so that a request it authorizes (e.g. the proxy cache's
# blob fetch handed to nginx, proxy_cache/blobs.py) does not start with a stale one.
DEFAULT_TOKEN_SECONDS = 60
RENEW_BEFORE_SECONDS = 20


class DockerRegistryAdapter(V2Client):
    def __init__(self, endpoint: Any, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self.credentials = (
            (endpoint.access_key, endpoint.access_secret) if endpoint.access_key else None
        )
        self.client = httpx.Client(
            base_url=endpoint.url,
            verify=verification(endpoint),
            timeout=httpx.Timeout(300.0, connect=10.0),
            limits=httpx.Limits(max_keepalive_connections=16, max_connections=32),
            transport=transport,
        )
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}  # token, renew after
        self._basic = False
        self._answered = False  # a request was answered without asking for credentials
        self._realm: tuple[str, str] | None = None  # (realm, service) of the last challenge
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def headers_for(self, wanted: Grants | None) -> dict[str, str]:
        key = tuple(scope_strings(wanted or ()))
        token = self._token(key)
        if token is None and key and self._realm:
            # the realm is known from an earlier challenge: no 401 round trip per scope
            token = self._fetch_token(*self._realm, key)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic and self.credentials:
            user, password = self.credentials
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def _token(self, key: tuple[str, ...]) -> str | None:
        found = self._tokens.get(key)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]

    def ready_headers(self, wanted: Grants | None) -> dict[str, str] | None:
        """The headers that authorize `wanted` now, without asking the registry first;
        None while this adapter has not learnt how the registry authenticates (no request
        answered yet, nor challenged)."""
        if not (self._realm or self._basic or self._answered):
            return None
        return self.headers_for(wanted)

    def auth_state(self) -> dict[str, Any] | None:
        """How the registry authenticates, as learnt (None: not yet), for another process's
        adapter of the same endpoint (`learn`): the token realm, Basic, or none."""
        if self._realm:
            return {"realm": list(self._realm)}
        if self._basic:
            return {"basic": True}
        return {"open": True} if self._answered else None

    def learn(self, state: dict[str, Any]) -> None:
        realm = state.get("realm")
        if isinstance(realm, list) and len(realm) == 2:
            self._realm = (str(realm[0]), str(realm[1]))
        self._basic = self._basic or state.get("basic") is True
        self._answered = self._answered or state.get("open") is True

    def send(self, method: str, url: str, wanted: Grants | None, **kwargs: Any) -> httpx.Response:
        response = super().send(method, url, wanted, **kwargs)
        if response.status_code != 401:
            self._answered = True
        return response

    def on_unauthorized(self, response: httpx.Response, wanted: Grants | None) -> bool:
        key = tuple(scope_strings(wanted or ()))
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if self._basic or not self.credentials:
                return False
            self._basic = True
            return True
        if scheme != "bearer":
            return False
        params = dict(CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return False
        self._realm = (realm, params.get("service", ""))
        previous = self._token(key)
        scopes = key or ((params["scope"],) if "scope" in params else ())
        token = self._fetch_token(realm, params.get("service", ""), scopes, key)
        return bool(token) and token != previous

    def _fetch_token(
        self, realm: str, service: str, scopes: tuple[str, ...], key: tuple[str, ...] | None = None
    ) -> str:
        query: list[tuple[str, Any]] = [("service", service)] + [("scope", s) for s in scopes]
        try:
            answer = self.client.get(
                realm, params=query, auth=self.credentials or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.HTTPError as exc:
            raise TransferError(f"token service {realm}: unreachable ({exc})") from exc
        if answer.status_code != 200:
            status = answer.status_code
            raise TransferError(f"token service {realm}: {refusal(status, '')}", status)
        body = answer.json()
        token = body.get("token") or body.get("access_token") or ""
        lifetime = body.get("expires_in")
        if not isinstance(lifetime, int) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_SECONDS
        renew_after = time.monotonic() + max(lifetime - RENEW_BEFORE_SECONDS, lifetime / 2)
        with self._lock:
            self._tokens[scopes if key is None else key] = (token, renew_after)
        return token

    def ping(self) -> None:
        response = self.send("GET", "/v2/", None)
        self._expect(response, 200, what="GET /v2/")

    def repositories(self) -> list[str]:
        found: list[str] = []
        url: str | None = "/v2/_catalog"
        catalog: Grants = ()
        while url:
            response = self.send("GET", url, catalog, params={"n": "1000"})
            self._expect(response, 200, what="GET /v2/_catalog")
            found += response.json().get("repositories") or []
            url = next_link(response)
        return found

    def artifacts(self, repository: str) -> list[SourceArtifact]:
        """Top-level artifacts with their tags: one per digest the tags point at."""
        by_digest: dict[str, list[str]] = {}
        for tag, digest in self.tag_digests(repository).items():
            by_digest.setdefault(digest, []).append(tag)
        return [SourceArtifact(d, tuple(sorted(t))) for d, t in by_digest.items()]
