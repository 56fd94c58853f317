"""Verifying signatures: pure functions over bytes already read (no database, no I/O).

- cosign (tag scheme `sha256-<hex>.sig` or an OCI 1.1 referrer): each layer is a simple
  signing payload (`application/vnd.dev.cosign.simplesigning.v1+json`) whose annotation
  `dev.cosignproject.cosign/signature` is the base64 signature over the payload's bytes;
  the payload's `critical.image.docker-manifest-digest` must be the subject's digest.
  ECDSA (P-256 with SHA-256, P-384 with SHA-384), RSA (PKCS#1 v1.5 or PSS, SHA-256) and
  Ed25519, with `cryptography`.
- Notation (OCI 1.1 referrer, artifact type `application/vnd.cncf.notary.signature`): a
  JWS envelope (`application/jose+json`, JSON serialization) whose payload's
  `targetArtifact.digest` must be the subject's digest; the JWS algorithms (PS256/384/512,
  ES256/384/512) are PyJWT's. Or a COSE_Sign1 envelope (`application/cose`), verified by
  signatures.cose (why by hand: there), with the same payload rule and Notation's
  critical headers understood.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from jwt.algorithms import get_default_algorithms

from signatures import cose
from signatures.keys import PublicKey

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
NOTATION_PAYLOAD = "application/vnd.cncf.notary.payload.v1+json"
JWS_ENVELOPE = "application/jose+json"
COSE_ENVELOPE = "application/cose"
JWS_ALGORITHMS = ("PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# Notation's critical headers (its signature specification); a verifier must understand
# every critical header or reject the envelope (RFC 9052 section 3.1). Expiry and the
# authentic signing time belong to Notation's trust policy, which is not implemented.
NOTATION_CRITICAL = (
    "io.cncf.notary.signingScheme",
    "io.cncf.notary.expiry",
    "io.cncf.notary.authenticSigningTime",
)

VERIFIED, UNTRUSTED, INVALID = "verified", "untrusted", "invalid"
_RANK = {VERIFIED: 0, UNTRUSTED: 1, INVALID: 2}


@dataclass(frozen=True)
class Key:
    id: int
    name: str
    public: PublicKey


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str
    key: Key | None = None


@dataclass(frozen=True)
class CosignLayer:
    digest: str
    payload: bytes | None  # None: the blob could not be read whole
    signature: str | None  # the annotation, base64


def best(outcomes: Sequence[Outcome]) -> Outcome:
    return min(outcomes, key=lambda o: _RANK[o.status])


def _hashes_for(key: ec.EllipticCurvePublicKey) -> list[hashes.HashAlgorithm]:
    own: dict[str, hashes.HashAlgorithm] = {
        "secp384r1": hashes.SHA384(),
        "secp521r1": hashes.SHA512(),
    }
    first = own.get(key.curve.name, hashes.SHA256())
    return [first] if isinstance(first, hashes.SHA256) else [first, hashes.SHA256()]


def verifies(key: PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether `signature` over `data` verifies with `key`, as cosign signs."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            for algorithm in _hashes_for(key):
                try:
                    key.verify(signature, data, ec.ECDSA(algorithm))
                    return True
                except InvalidSignature:
                    continue
            return False
        if isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            for scheme in (padding.PKCS1v15(), pss):
                try:
                    key.verify(signature, data, scheme, hashes.SHA256())
                    return True
                except InvalidSignature:
                    continue
    except (InvalidSignature, ValueError):
        return False
    return False


def _untrusted(keys: Sequence[Key], who: str) -> Outcome:
    if not keys:
        return Outcome(UNTRUSTED, f"{who}; no trusted key is configured to verify it")
    names = ", ".join(k.name for k in keys)
    return Outcome(UNTRUSTED, f"{who}, but no trusted key verifies it (tried: {names})")


def cosign_layer(layer: CosignLayer, subject: str, keys: Sequence[Key]) -> Outcome:
    short = layer.digest[:19]
    if layer.payload is None:
        return Outcome(
            INVALID, f"signature layer {short} is unreadable (missing, truncated or corrupt)"
        )
    try:
        payload = json.loads(layer.payload)
        named = payload["critical"]["image"]["docker-manifest-digest"]
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        return Outcome(INVALID, f"signature layer {short} is not a simple signing payload")
    if named != subject:
        return Outcome(INVALID, f"the signature is over another digest ({named}), not {subject}")
    if not layer.signature:
        return Outcome(INVALID, f"signature layer {short} carries no signature annotation")
    try:
        signature = base64.b64decode(layer.signature, validate=True)
    except (binascii.Error, ValueError):
        return Outcome(INVALID, f"the signature of layer {short} is not valid base64")
    for key in keys:
        if verifies(key.public, signature, layer.payload):
            return Outcome(VERIFIED, f"verified with trusted key {key.name}", key)
    return _untrusted(keys, "cosign signature over this digest")


def cosign(layers: Sequence[CosignLayer], subject: str, keys: Sequence[Key]) -> Outcome:
    if not layers:
        return Outcome(INVALID, "the cosign signature manifest has no signature layer")
    return best([cosign_layer(layer, subject, keys) for layer in layers])


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _leaf(der: object) -> tuple[str, PublicKey] | None:
    """The subject and key of a DER certificate (the envelope's signing certificate)."""
    if not isinstance(der, bytes):
        return None
    try:
        certificate = x509.load_der_x509_certificate(der)
        key = certificate.public_key()
    except ValueError:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return certificate.subject.rfc4514_string(), key
    return None


@dataclass(frozen=True)
class _Envelope:
    """What both Notation envelope formats carry, read but not verified yet."""

    content_type: object
    payload: bytes
    verify: Callable[[PublicKey], bool]
    leaf: tuple[str, PublicKey] | None  # the signing certificate's subject and key


def _jws(data: bytes) -> _Envelope | Outcome:
    invalid = Outcome(INVALID, "the signature envelope is not a Notation JWS envelope")
    try:
        doc = json.loads(data)
        protected_b64, payload_b64 = doc["protected"], doc["payload"]
        signature = _b64url(doc["signature"])
        header = json.loads(_b64url(protected_b64))
        payload = _b64url(payload_b64)
        algorithm = header["alg"]
    except (ValueError, UnicodeDecodeError, TypeError, KeyError, binascii.Error):
        return invalid
    if not isinstance(header, dict) or not isinstance(doc, dict):
        return invalid
    if algorithm not in JWS_ALGORITHMS:
        return Outcome(INVALID, f"unsupported JWS algorithm {algorithm!r}")
    verifier = get_default_algorithms()[algorithm]
    signing_input = f"{protected_b64}.{payload_b64}".encode()

    def verify(key: PublicKey) -> bool:
        try:
            return bool(verifier.verify(signing_input, key, signature))
        except (ValueError, TypeError, AttributeError, InvalidSignature):
            return False

    unprotected = doc.get("header")
    chain = unprotected.get("x5c") if isinstance(unprotected, dict) else None
    leaf = None
    if isinstance(chain, list) and chain and isinstance(chain[0], str):
        try:
            leaf = _leaf(base64.b64decode(chain[0]))
        except (binascii.Error, ValueError):
            leaf = None
    return _Envelope(header.get("cty"), payload, verify, leaf)


def _cose(data: bytes) -> _Envelope | Outcome:
    try:
        message = cose.decode(data)
    except cose.Malformed as exc:
        return Outcome(INVALID, f"the signature envelope is not a Notation COSE envelope: {exc}")
    critical = message.protected.get(cose.CRIT, [])
    unknown = (
        [c for c in critical if c not in NOTATION_CRITICAL]
        if isinstance(critical, list | tuple)
        else [critical]
    )
    if unknown:
        return Outcome(INVALID, f"the COSE envelope has critical headers not understood: {unknown}")
    chain = message.unprotected.get(cose.X5CHAIN)
    first = chain[0] if isinstance(chain, list | tuple) and chain else chain
    return _Envelope(
        message.protected.get(cose.CONTENT_TYPE),
        message.payload,
        lambda key: cose.verifies(message, key),
        _leaf(first),
    )


def notation(
    envelope_type: str, envelope: bytes | None, subject: str, keys: Sequence[Key]
) -> Outcome:
    """A Notation signature envelope, JWS or COSE: its payload must name `subject`, and
    a trusted key (or, with none configured, its own certificate) must verify it."""
    if envelope_type not in (JWS_ENVELOPE, COSE_ENVELOPE):
        return Outcome(INVALID, f"unknown Notation envelope type {envelope_type!r}")
    if envelope is None:
        return Outcome(
            INVALID, "the signature envelope is unreadable (missing, truncated or corrupt)"
        )
    read = _jws(envelope) if envelope_type == JWS_ENVELOPE else _cose(envelope)
    if isinstance(read, Outcome):
        return read
    if read.content_type != NOTATION_PAYLOAD:
        return Outcome(INVALID, f"the envelope's payload is not {NOTATION_PAYLOAD}")
    try:
        named = json.loads(read.payload)["targetArtifact"]["digest"]
    except (ValueError, UnicodeDecodeError, TypeError, KeyError):
        return Outcome(INVALID, "the envelope's payload names no target artifact")
    if named != subject:
        return Outcome(INVALID, f"the signature is over another digest ({named}), not {subject}")
    for key in keys:
        if read.verify(key.public):
            return Outcome(VERIFIED, f"verified with trusted key {key.name}", key)
    if read.leaf is not None and not read.verify(read.leaf[1]):
        return Outcome(INVALID, "the envelope's signature does not verify with its own certificate")
    who = (
        f"Notation signature by {read.leaf[0]}"
        if read.leaf
        else "Notation signature over this digest"
    )
    return _untrusted(keys, who)
