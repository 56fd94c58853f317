"""Talking to the OpenID provider (auth_mode oidc_auth): discovery, keys, the code flow,
refresh, ID-token verification and the ping.

The protocol is carried by maintained libraries: authlib's OAuth 2.0 client (the
authorization URL with PKCE S256, state and nonce; the code exchange; refresh) and
joserfc, authlib's JOSE library (signature and claims of the ID token). Ours is only the
policy around them:

- the discovery document and the provider's keys (JWKS) are fetched once and kept in the
  shared cache for CACHE_SECONDS; an ID token signed with a key id that the cached set does
  not know fetches the set again (the provider rotated its keys), at most once per
  REFETCH_SECONDS, so that tokens with made-up key ids cannot make us hammer the provider;
- the issuer of the discovery document must be the configured endpoint (OpenID Connect
  Discovery §4.3), and the ID token's `iss`, `aud` (our client id), `exp`/`iat`/`nbf`
  (LEEWAY_SECONDS) and, at sign-in, `nonce` are checked.

Failures are `ProviderError` (the provider cannot be reached or answered nonsense, the
caller says "the provider is unavailable") or `TokenRefused` (what the provider or the
browser sent does not verify: a refusal).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from harbor_py.core import configuration

logger = logging.getLogger(__name__)

CACHE_SECONDS = 3600
REFETCH_SECONDS = 10
LEEWAY_SECONDS = 60
TIMEOUT_SECONDS = 10
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


class ProviderError(Exception):
    """The provider cannot be asked (down, unreachable, certificate, nonsense answers)."""


class TokenRefused(Exception):
    """The provider refused (a grant revoked, a code already used) or a token does not
    verify (signature, issuer, audience, expiry, nonce)."""


@dataclass(frozen=True)
class OidcSettings:
    name: str
    endpoint: str
    client_id: str
    client_secret: str
    scope: list[str]
    verify_cert: bool
    auto_onboard: bool
    user_claim: str
    groups_claim: str
    admin_group: str
    group_filter: str
    extra_redirect_parms: dict[str, str] = field(default_factory=dict)
    logout: bool = False


def current() -> OidcSettings:
    get = configuration.get
    try:
        extra = json.loads(get("oidc_extra_redirect_parms") or "{}")
    except ValueError:
        extra = {}
    return OidcSettings(
        name=get("oidc_name"),
        endpoint=get("oidc_endpoint").rstrip("/"),
        client_id=get("oidc_client_id"),
        client_secret=get("oidc_client_secret"),
        scope=[s.strip() for s in get("oidc_scope").split(",") if s.strip()],
        verify_cert=get("oidc_verify_cert"),
        auto_onboard=get("oidc_auto_onboard"),
        user_claim=get("oidc_user_claim"),
        groups_claim=get("oidc_groups_claim"),
        admin_group=get("oidc_admin_group"),
        group_filter=get("oidc_group_filter"),
        extra_redirect_parms=extra if isinstance(extra, dict) else {},
        logout=get("oidc_logout"),
    )


def _key(kind: str, endpoint: str) -> str:
    return f"oidc:{kind}:" + hashlib.sha256(endpoint.encode()).hexdigest()[:32]


def _get_json(url: str, *, verify: bool) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, verify=verify, follow_redirects=False)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
        raise ProviderError(f"the OIDC provider cannot be reached: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ProviderError(f"the OIDC provider answered {response.status_code} for {url}")
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"the OIDC provider's answer for {url} is not JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(f"the OIDC provider's answer for {url} is not a JSON object")
    return body


def fetch_discovery(endpoint: str, *, verify: bool) -> dict[str, Any]:
    """The discovery document, checked (not cached): the issuer is the endpoint and the
    endpoints the code flow needs are there."""
    endpoint = endpoint.rstrip("/")
    meta = _get_json(endpoint + "/.well-known/openid-configuration", verify=verify)
    if str(meta.get("issuer", "")).rstrip("/") != endpoint:
        raise ProviderError(
            f"the provider's issuer {meta.get('issuer')!r} is not the endpoint {endpoint!r}"
        )
    for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(needed), str):
            raise ProviderError(f"the provider's discovery document has no {needed}")
    return meta


def ping(url: str, *, verify: bool) -> None:
    """POST /system/oidc/ping: the discovery document and the keys can be read."""
    if not url:
        raise ProviderError("the OIDC endpoint is empty")
    meta = fetch_discovery(url, verify=verify)
    _key_set(_get_json(meta["jwks_uri"], verify=verify))


def discovery(config: OidcSettings, *, fresh: bool = False) -> dict[str, Any]:
    """The provider's discovery document, from the cache unless `fresh`."""
    if not config.endpoint or not config.client_id:
        raise ProviderError("OIDC is not configured (endpoint and client id)")
    key = _key("discovery", config.endpoint)
    meta = None if fresh else cache.get(key)
    if not isinstance(meta, dict):
        meta = fetch_discovery(config.endpoint, verify=config.verify_cert)
        cache.set(key, meta, CACHE_SECONDS)
    return meta


def _key_set(raw: dict[str, Any]) -> KeySet:
    try:
        return KeySet.import_key_set(raw)  # type: ignore[arg-type]  # JSON checked by joserfc
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderError("the provider's key set (JWKS) cannot be read") from None


def _keys(config: OidcSettings, *, refetch: bool = False) -> KeySet:
    key = _key("jwks", config.endpoint)
    raw = None if refetch else cache.get(key)
    if not isinstance(raw, dict):
        raw = _get_json(discovery(config)["jwks_uri"], verify=config.verify_cert)
        cache.set(key, raw, CACHE_SECONDS)
    return _key_set(raw)


def verify_id_token(config: OidcSettings, id_token: str, *, nonce: str | None) -> dict[str, Any]:
    """The verified claims of an ID token. `nonce`: the one sent with the authorization
    request (sign-in); None for an ID token from a refresh, which carries none to check."""
    meta = discovery(config)
    try:
        token = _decode(config, id_token, _keys(config))
    except InvalidKeyIdError:
        # A key we do not know: the provider may have rotated. Fetch the set again, once.
        if not cache.add(_key("refetch", config.endpoint), 1, REFETCH_SECONDS):
            raise TokenRefused("the ID token is signed with an unknown key") from None
        try:
            token = _decode(config, id_token, _keys(config, refetch=True))
        except InvalidKeyIdError:
            raise TokenRefused("the ID token is signed with an unknown key") from None
    checks: dict[str, Any] = {
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": config.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        checks["nonce"] = {"essential": True, "value": nonce}
    try:
        jwt.JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **checks).validate(token.claims)
    except JoseError as exc:
        raise TokenRefused(f"the ID token is invalid: {exc.description or exc.error}") from None
    return dict(token.claims)


def _decode(config: OidcSettings, id_token: str, keys: KeySet) -> jwt.Token:
    try:
        return jwt.decode(id_token, keys, algorithms=ALGORITHMS)
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        raise TokenRefused(f"the ID token does not verify: {type(exc).__name__}") from None


def _client(config: OidcSettings, redirect_uri: str = "", *, scoped: bool = True) -> OAuth2Client:
    return OAuth2Client(
        client_id=config.client_id,
        client_secret=config.client_secret,
        # A refresh asks for no scope: it keeps the grant's (RFC 6749 §6); asking again for
        # one the provider did not grant (offline_access without consent) is refused.
        scope=" ".join(config.scope) if scoped else None,
        redirect_uri=redirect_uri or None,
        code_challenge_method="S256",
        timeout=TIMEOUT_SECONDS,
        verify=config.verify_cert,
    )


@dataclass(frozen=True)
class Authorization:
    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization(config: OidcSettings, *, redirect_uri: str) -> Authorization:
    """Where to send the browser, with a fresh state, nonce and PKCE verifier that the
    caller keeps (in the session) for the callback. The discovery document is read afresh:
    a provider that is down is a refusal here rather than a browser stuck at its door."""
    endpoint = discovery(config, fresh=True)["authorization_endpoint"]
    nonce, verifier = generate_token(32), generate_token(64)
    with _client(config, redirect_uri) as client:
        url, state = client.create_authorization_url(
            endpoint, code_verifier=verifier, nonce=nonce, **config.extra_redirect_parms
        )
    return Authorization(url=url, state=state, nonce=nonce, code_verifier=verifier)


def _token_call(config: OidcSettings, call: str, **kwargs: Any) -> dict[str, Any]:
    endpoint = discovery(config)["token_endpoint"]
    try:
        scoped = call != "refresh_token"
        with _client(config, kwargs.pop("redirect_uri", ""), scoped=scoped) as client:
            token = getattr(client, call)(endpoint, **kwargs)
    except OAuthError as exc:
        detail = f"{exc.error}: {exc.description}" if exc.description else exc.error
        raise TokenRefused(f"the OIDC provider refused: {detail}") from None
    except httpx.HTTPError as exc:
        raise ProviderError(f"the OIDC provider cannot be reached: {type(exc).__name__}") from None
    except ValueError:
        raise ProviderError("the OIDC provider's token answer cannot be read") from None
    return dict(token)


def exchange_code(
    config: OidcSettings, *, code: str, code_verifier: str, redirect_uri: str
) -> dict[str, Any]:
    return _token_call(
        config,
        "fetch_token",
        grant_type="authorization_code",
        code=code,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
    )


def refresh(config: OidcSettings, *, refresh_token: str) -> dict[str, Any]:
    """New tokens for a refresh token; TokenRefused when the provider no longer honours it
    (grant revoked, user removed, refresh token expired)."""
    return _token_call(config, "refresh_token", refresh_token=refresh_token)


def end_session_url(config: OidcSettings, *, id_token: str, after: str) -> str | None:
    """RP-initiated logout at the provider, when it publishes an end_session_endpoint."""
    try:
        endpoint = discovery(config).get("end_session_endpoint")
    except ProviderError:
        return None
    if not isinstance(endpoint, str) or not endpoint:
        return None
    query = {"client_id": config.client_id, "post_logout_redirect_uri": after}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
