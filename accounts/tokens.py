"""Registry bearer tokens (Docker token spec): minting and verification.

Format decisions are in ARCHITECTURE.md §2 and shared/reference/distribution-2.8-jwt-acceptance.md:
ES256, `x5c` = [certificate as standard base64 DER], `aud` a plain string, integer times.
RS256 tokens of the RSA signer from before ES256 stay valid while its certificate exists.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import jwt
from django.conf import settings

from accounts import keys

LEEWAY_SECONDS = 60
DEFAULT_EXPIRATION_SECONDS = 30 * 60
# type[(class)]:name:actions; the name may contain ':' only in a registry host, which we
# never accept, so the first and last ':' split the three parts.
_SCOPE = re.compile(r"^(?P<type>[a-z]+)(?:\([a-z0-9]+\))?:(?P<name>[^:]+):(?P<actions>[a-z*,]*)$")


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def claim(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scopes(raw_scopes: list[str]) -> list[Scope]:
    """Parse `scope` parameters; each may hold several space-separated scopes. Bad ones drop."""
    parsed: list[Scope] = []
    for raw in raw_scopes:
        for item in raw.split():
            match = _SCOPE.match(item)
            if match:
                actions = frozenset(a for a in match["actions"].split(",") if a)
                parsed.append(Scope(match["type"], match["name"], actions))
    return parsed


@dataclass
class TokenClaims:
    subject: str
    access: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    def allows(self, type_: str, name: str, action: str) -> bool:
        granted = self.access.get((type_, name), frozenset())
        return action in granted or "*" in granted


class InvalidToken(Exception):
    pass


def _x5c_header() -> list[str]:
    der = keys.certificate_der(settings.HARBOR["TOKEN_CERT_PATH"])
    return [base64.standard_b64encode(der).decode()]


def mint(subject: str, scopes: list[Scope], expires_in: int | None = None) -> tuple[str, int, int]:
    """Return (token, expires_in, issued_at)."""
    config = settings.HARBOR
    expires_in = expires_in or DEFAULT_EXPIRATION_SECONDS
    now = int(time.time())
    claims = {
        "iss": config["TOKEN_ISSUER"],
        "sub": subject,
        "aud": config["TOKEN_SERVICE"],
        "exp": now + expires_in,
        "nbf": now,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": [s.claim() for s in scopes if s.actions],
    }
    key = keys.load_private_key(config["TOKEN_KEY_PATH"])
    algorithm = keys.jwt_algorithm(key)
    token = jwt.encode(claims, key, algorithm=algorithm, headers={"x5c": _x5c_header()})  # type: ignore[arg-type]  # accounts.keys makes an EC (or, before ES256, RSA) key
    return token, expires_in, now


# Every request of one client process carries the same token: verify it once per process.
# Keyed by the whole token string, so a hit is the very token that was verified; its expiry
# (with the same leeway) is checked again on every hit.
_VERIFIED: dict[str, tuple[TokenClaims, int, int]] = {}
_VERIFIED_MAX = 4096


def verify(raw: str) -> TokenClaims:
    hit = _VERIFIED.get(raw)
    if hit is not None:
        claims, not_before, expires = hit
        now = time.time()
        if not_before - LEEWAY_SECONDS <= now <= expires + LEEWAY_SECONDS:
            return claims
        _VERIFIED.pop(raw, None)
    claims, not_before, expires = _verify(raw)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[raw] = (claims, not_before, expires)
    return claims


def _header(raw: str) -> dict[str, object]:
    """The unverified header, only to pick the key: PyJWT's own reader checks every
    character of the token in Python (the x5c certificate is most of it), and its decode,
    which checks the header again with the key picked, does that once already."""
    segment = raw.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidToken("malformed token header") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed token header")
    return header


def _trusted_key(raw: str) -> tuple[str, object]:
    """The key of ours that signs with the token's algorithm: one algorithm per key, so a
    token can never make us verify with a key of another type (e.g. HS256 keyed with a
    public certificate)."""
    config = settings.HARBOR
    trusted = keys.trusted_keys((config["TOKEN_CERT_PATH"], config["TOKEN_RSA_CERT_PATH"]))
    algorithm = _header(raw).get("alg")
    if not isinstance(algorithm, str) or algorithm not in trusted:
        raise InvalidToken(f"no trusted key signs {algorithm!r}")
    return algorithm, trusted[algorithm]


def _verify(raw: str) -> tuple[TokenClaims, int, int]:
    config = settings.HARBOR
    algorithm, key = _trusted_key(raw)
    try:
        claims = jwt.decode(
            raw,
            key,  # type: ignore[arg-type]  # an EC or RSA public key (accounts.keys.trusted_keys)
            algorithms=[algorithm],
            audience=config["TOKEN_SERVICE"],
            issuer=config["TOKEN_ISSUER"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(claims.get("aud"), str):
        raise InvalidToken("aud must be a single string")  # as distribution requires
    result = TokenClaims(subject=str(claims.get("sub") or ""))
    access = claims.get("access") or []
    if not isinstance(access, list):
        raise InvalidToken("access must be a list")
    for entry in access:
        if not isinstance(entry, dict) or not isinstance(entry.get("actions"), list):
            raise InvalidToken("malformed access entry")
        key = (str(entry.get("type")), str(entry.get("name")))
        result.access[key] = result.access.get(key, frozenset()) | frozenset(
            str(a) for a in entry["actions"]
        )
    not_before = claims.get("nbf")
    return result, not_before if isinstance(not_before, int) else 0, int(claims["exp"])
