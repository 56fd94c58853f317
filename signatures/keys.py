"""Reading a trusted key: a PEM public key (or an X.509 certificate, whose key is taken,
as Notation users hold certificates) of the algorithms cosign and Notation sign with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harbor_py.core.errors import bad_request

MAX_PEM = 16 * 1024
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
_CURVES = {"secp256r1": "ECDSA-P256", "secp384r1": "ECDSA-P384"}


@dataclass(frozen=True)
class ParsedKey:
    algorithm: str
    fingerprint: str
    pem: str
    key: PublicKey


def load(pem: str) -> PublicKey:
    """The public key of a PEM that parse() accepted."""
    return parse(pem).key


def parse(pem: object) -> ParsedKey:
    """Raises a BAD_REQUEST DomainError that says what is wrong with the key."""
    if not isinstance(pem, str) or not pem.strip():
        raise bad_request("public_key must be a PEM public key", key="key.not_pem")
    if len(pem) > MAX_PEM:
        raise bad_request(
            f"public_key is longer than {MAX_PEM} characters",
            key="key.too_long",
            params={"max": MAX_PEM},
        )
    try:
        data = pem.strip().encode()
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise bad_request(
            f"public_key is not a PEM public key or certificate: {exc}", key="key.not_pem"
        ) from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _CURVES.get(key.curve.name)
        if algorithm is None:
            raise bad_request(
                f"unsupported curve {key.curve.name}: use P-256 or P-384",
                key="key.curve_unsupported",
                params={"curve": key.curve.name},
            )
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise bad_request(
                f"an RSA key of {key.key_size} bits is too weak (2048 at least)",
                key="key.rsa_weak",
                params={"bits": key.key_size},
            )
        algorithm = f"RSA-{key.key_size}"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "Ed25519"
    else:
        raise bad_request(
            "unsupported key type: use ECDSA P-256/P-384, RSA or Ed25519",
            key="key.type_unsupported",
        )
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    normalized = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return ParsedKey(algorithm, "sha256:" + hashlib.sha256(der).hexdigest(), normalized, key)
