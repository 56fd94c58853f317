"""The token signing key, its self-signed certificate and distribution's rootcertbundle.

The signer is an ECDSA P-256 key (ES256): its signature costs a small fraction of an
RSA-3072 one. Installs from before ES256 have an RSA key and certificate (`token.key`,
`token.crt`); their certificate stays in the bundle and in our trusted keys, so tokens
issued before the upgrade stay valid until they expire (docs/architecture.md, "Signing key").
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from cryptography.x509.oid import NameOID

CERT_VALIDITY_DAYS = 3650


def new_ec_key() -> CertificateIssuerPrivateKeyTypes:
    return ec.generate_private_key(ec.SECP256R1())


def generate_signing_material(
    key_path: Path,
    cert_path: Path,
    common_name: str,
    make_key: Callable[[], CertificateIssuerPrivateKeyTypes] = new_ec_key,
) -> bool:
    """Create the key and certificate unless both exist. Returns True when created."""
    if key_path.exists() and cert_path.exists():
        return False
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=CERT_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def write_certificate_bundle(bundle_path: Path, cert_paths: Iterable[Path]) -> list[Path]:
    """Write the certificates that exist into one PEM bundle; returns those written."""
    present = [path for path in cert_paths if path.exists()]
    content = b"".join(path.read_bytes() for path in present)
    if not bundle_path.exists() or bundle_path.read_bytes() != content:
        bundle_path.write_bytes(content)
    return present


def jwt_algorithm(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """The JWS algorithm distribution accepts for this key type."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return "ES256"
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return "RS256"
    raise ValueError(f"no token algorithm for a {type(key).__name__}")


@lru_cache(maxsize=4)
def load_private_key(key_path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(key_path.read_bytes(), password=None)


@lru_cache(maxsize=4)
def load_certificate(cert_path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(cert_path.read_bytes())


def certificate_der(cert_path: Path) -> bytes:
    return load_certificate(cert_path).public_bytes(serialization.Encoding.DER)


def public_key(cert_path: Path) -> PublicKeyTypes:
    return load_certificate(cert_path).public_key()


@lru_cache(maxsize=4)
def trusted_keys(cert_paths: tuple[Path, ...]) -> dict[str, PublicKeyTypes]:
    """Algorithm → public key of each certificate that exists; the first one wins."""
    trusted: dict[str, PublicKeyTypes] = {}
    for path in cert_paths:
        if path.exists():
            key = public_key(path)
            trusted.setdefault(jwt_algorithm(key), key)
    return trusted
