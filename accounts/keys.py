"""The token signing key and its self-signed certificate (distribution's rootcertbundle)."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import NameOID

CERT_VALIDITY_DAYS = 3650


def generate_signing_material(key_path: Path, cert_path: Path, common_name: str) -> bool:
    """Create the key and certificate unless both exist. Returns True when created."""
    if key_path.exists() and cert_path.exists():
        return False
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
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
