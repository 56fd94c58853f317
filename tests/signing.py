"""Signatures made the way cosign, skopeo and Notation make them, for the tests and the
signature bench: key pairs (also in cosign's encrypted key format, which skopeo reads),
cosign simple-signing payloads and signature manifests, Notation JWS envelopes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests import tls
from tests.tls import PrivateKey

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
NOTATION_TYPE = "application/vnd.cncf.notary.signature"
JWS = "application/jose+json"
COSE = "application/cose"


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign(key: PrivateKey, data: bytes) -> bytes:
    """As cosign signs a payload: ECDSA (DER) with the curve's hash, RSA PKCS#1 v1.5
    SHA-256, Ed25519 over the message."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    algorithm = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
    return key.sign(data, ec.ECDSA(algorithm))


def cosign_payload(digest: str, reference: str = "example.test/demo/app") -> bytes:
    doc = {
        "critical": {
            "identity": {"docker-reference": reference},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, media_type: str, **extra: Any) -> dict[str, Any]:
        return {"mediaType": media_type, "digest": self.digest, "size": len(self.data), **extra}


def cosign_signature(
    key: PrivateKey,
    signed_digest: str,
    *,
    subject: str | None = None,
    subject_size: int = 0,
    payload: bytes | None = None,
) -> tuple[dict[str, Any], list[Blob]]:
    """A cosign signature manifest over `signed_digest` and the blobs to upload first.
    `subject`: an OCI 1.1 referrer of that digest (cosign's referrers mode) instead of the
    tag scheme. `payload`: bytes to put in the layer instead of the signed payload (a
    truncated layer)."""
    signed = cosign_payload(signed_digest)
    layer = Blob(payload if payload is not None else signed)
    config = Blob(json.dumps({"architecture": "", "os": "", "nonce": os.urandom(4).hex()}).encode())
    annotation = base64.b64encode(sign(key, signed)).decode()
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(OCI_CONFIG),
        "layers": [
            layer.descriptor(
                SIMPLE_SIGNING, annotations={"dev.cosignproject.cosign/signature": annotation}
            )
        ],
    }
    if subject is not None:
        doc["artifactType"] = "application/vnd.dev.cosign.artifact.sig.v1+json"
        doc["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size}
    return doc, [config, layer]


def certificate(key: PrivateKey, name: str = "harbor-py test signer") -> x509.Certificate:
    return tls.certificate(key, name)


def notation_envelope(key: PrivateKey, signed_digest: str, size: int = 1) -> bytes:
    """A Notation JWS envelope (JSON serialization) over `signed_digest`, with the signing
    certificate in `x5c` as notation writes it."""
    algorithm = "PS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        algorithm = "ES384"
    payload = {"targetArtifact": {"mediaType": OCI_MANIFEST, "digest": signed_digest, "size": size}}
    headers = {
        "cty": "application/vnd.cncf.notary.payload.v1+json",
        "crit": ["io.cncf.notary.signingScheme"],
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    compact = jwt.api_jws.PyJWS().encode(
        json.dumps(payload).encode(), key, algorithm=algorithm, headers=headers
    )
    protected, body, signature = compact.split(".")
    leaf = certificate(key).public_bytes(serialization.Encoding.DER)
    envelope = {
        "payload": body,
        "protected": protected,
        "header": {
            "x5c": [base64.b64encode(leaf).decode()],
            "io.cncf.notary.signingAgent": "tests",
        },
        "signature": signature,
    }
    return json.dumps(envelope).encode()


COSE_ALGORITHMS = {"ES256": -7, "ES384": -35, "ES512": -36, "PS256": -37, "PS384": -38}


def notation_cose_envelope(
    key: PrivateKey,
    signed_digest: str,
    size: int = 1,
    *,
    critical: tuple[str, ...] = ("io.cncf.notary.signingScheme",),
) -> bytes:
    """A Notation COSE envelope over `signed_digest`, as notation writes it with
    `--signature-format cose`: a tagged COSE_Sign1 whose protected header holds the
    algorithm, Notation's critical headers and the payload's content type, with the
    signing certificate in the unprotected x5chain (33). ECDSA signatures are r||s."""
    import cbor2
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if isinstance(key, rsa.RSAPrivateKey):
        name, hash_type = "PS256", hashes.SHA256()
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
        name, hash_type = "ES384", hashes.SHA384()
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        name, hash_type = "ES256", hashes.SHA256()
    else:
        raise ValueError("Notation's COSE profile signs with ECDSA or RSA-PSS")
    payload = json.dumps(
        {"targetArtifact": {"mediaType": OCI_MANIFEST, "digest": signed_digest, "size": size}}
    ).encode()
    protected = cbor2.dumps(
        {
            1: COSE_ALGORITHMS[name],
            2: list(critical),
            3: "application/vnd.cncf.notary.payload.v1+json",
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": cbor2.CBORTag(
                1, int(dt.datetime.now(dt.UTC).timestamp())
            ),
        }
    )
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hash_type), salt_length=hash_type.digest_size)
        signature = key.sign(to_sign, pss, hash_type)
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hash_type)))
        size_of = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size_of, "big") + s.to_bytes(size_of, "big")
    leaf = certificate(key).public_bytes(serialization.Encoding.DER)
    unprotected = {33: [leaf], "io.cncf.notary.signingAgent": "tests"}
    return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))


def notation_signature(
    key: PrivateKey,
    subject: str,
    subject_size: int,
    *,
    signed_digest: str | None = None,
    cose: bool = False,
) -> tuple[dict[str, Any], list[Blob]]:
    """A Notation signature manifest (OCI 1.1 referrer of `subject`) and its blobs; a
    JWS envelope, or with `cose` a COSE one."""
    make = notation_cose_envelope if cose else notation_envelope
    envelope = Blob(make(key, signed_digest or subject, subject_size))
    config = Blob(b"{}")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": NOTATION_TYPE,
        "config": config.descriptor(EMPTY_CONFIG),
        "layers": [envelope.descriptor(COSE if cose else JWS)],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[]"},
    }
    return doc, [config, envelope]


def manifest_digest(doc: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(doc).encode()).hexdigest()


def cosign_private_key(key: PrivateKey, passphrase: bytes) -> bytes:
    """`key` in cosign's encrypted key format, which skopeo's --sign-by-sigstore-private-key
    reads: PKCS#8 DER sealed with NaCl secretbox under a scrypt key (N=32768, r=8, p=1), as
    go-securesystemslib's `encrypted` package writes it, in a PEM block."""
    import nacl.secret

    salt, nonce = os.urandom(32), os.urandom(24)
    secret = hashlib.scrypt(
        passphrase, salt=salt, n=32768, r=8, p=1, maxmem=64 * 1024 * 1024, dklen=32
    )
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    sealed = nacl.secret.SecretBox(secret).encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": 32768, "r": 8, "p": 1},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.encodebytes(json.dumps(doc).encode()).decode()
    return (
        f"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n{body}"
        "-----END ENCRYPTED COSIGN PRIVATE KEY-----\n"
    ).encode()


def load_cosign_private_key(pem: bytes, passphrase: bytes) -> PrivateKey:
    """The key of cosign_private_key() back (what skopeo and cosign do with the file)."""
    import nacl.secret

    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    doc = json.loads(base64.b64decode(body))
    params = doc["kdf"]["params"]
    secret = hashlib.scrypt(
        passphrase,
        salt=base64.b64decode(doc["kdf"]["salt"]),
        n=params["N"],
        r=params["r"],
        p=params["p"],
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    der = nacl.secret.SecretBox(secret).decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(
        key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    )
    return key


def write_layout(path: Path, doc: dict[str, Any], blobs: list[Blob]) -> str:
    """An OCI layout holding the manifest `doc` (bytes as manifest_digest() hashes them) and
    its blobs; the manifest's digest."""
    store = path / "blobs" / "sha256"
    store.mkdir(parents=True, exist_ok=True)
    body = json.dumps(doc).encode()
    for blob in [*blobs, Blob(body)]:
        (store / blob.digest.split(":", 1)[1]).write_bytes(blob.data)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [Blob(body).descriptor(doc["mediaType"])],
    }
    (path / "index.json").write_text(json.dumps(index))
    return Blob(body).digest
