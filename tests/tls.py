"""Certificates for the tests, made with the cryptography library: a private CA and the
server certificates it issues for a DNS name or an IP address, self-signed ones (slapd's
ldaps://, a signer's certificate), and their PEM files.

    cert_file, key_file, ca_pem = tls_material(tmp_path, "localhost")   # a TLS server's
    ca = private_ca(); server = issued(ca, "127.0.0.1"); server.write(directory)
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Certified:
    """A certificate and its private key."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def write(self, directory: Path) -> tuple[Path, Path]:
        """server.crt and server.key (PKCS #8, unencrypted) in `directory`."""
        cert_file, key_file = directory / "server.crt", directory / "server.key"
        cert_file.write_text(self.pem)
        key_file.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


def certificate(
    key: PrivateKey,
    subject: str,
    *,
    issuer: Certified | None = None,
    names: Sequence[str] = (),
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for `key` named `subject`, signed by `issuer` (else by `key` itself),
    valid from a day ago for 30 days; `names`: its subject alternative names (DNS names or
    IP addresses); `ca`: it may issue others."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), False
        )
    signer = issuer.key if issuer else key
    # Ed25519 signs without a separate digest.
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_ca(name: str = "test CA") -> Certified:
    key = _key()
    return Certified(certificate(key, name, ca=True), key)


def issued(ca: Certified, name: str) -> Certified:
    """A server certificate for `name` (a DNS name or an IP address) issued by `ca`."""
    key = _key()
    return Certified(certificate(key, name, issuer=ca, names=[name]), key)


def self_signed(name: str) -> Certified:
    """A server certificate for `name` that no CA issued (clients that verify refuse it)."""
    key = _key()
    return Certified(certificate(key, name, names=[name]), key)


def tls_material(directory: Path, name: str) -> tuple[Path, Path, str]:
    """A private CA and a certificate for `name` it issued, written into `directory`:
    (certificate file, key file, the CA's PEM)."""
    ca = private_ca()
    cert_file, key_file = issued(ca, name).write(directory)
    return cert_file, key_file, ca.pem
