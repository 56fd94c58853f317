"""The token signing material of installs from before ES256, for upgrade tests."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.keys import generate_signing_material


def make_rsa_signing_material(key_path: Path, cert_path: Path) -> None:
    """An RSA-3072 key and its certificate, as `platform prepare` made them before ES256."""
    generate_signing_material(
        key_path,
        cert_path,
        "harbor-token-issuer",
        make_key=lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
    )
