"""signatures.verification and signatures.keys: pure checks over bytes (no registry)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harbor_py.core.errors import DomainError
from registry.accessories import classify
from registry.manifests import parse_manifest
from signatures import keys, verification
from tests import signing

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def trusted(key, name="ci") -> verification.Key:
    return verification.Key(1, name, keys.load(signing.public_pem(key)))


def layer(key, signed=DIGEST, payload=None) -> verification.CosignLayer:
    body = signing.cosign_payload(signed)
    signature = base64.b64encode(signing.sign(key, body)).decode()
    return verification.CosignLayer(
        "sha256:" + "c" * 64, body if payload is None else payload, signature
    )


@pytest.mark.parametrize(
    "make",
    [
        signing.ec_key,
        lambda: signing.ec_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p256", "p384", "rsa", "ed25519"],
)
def test_cosign_verifies_with_each_algorithm(make):
    key = make()
    outcome = verification.cosign(
        [layer(key)], DIGEST, [trusted(signing.ec_key(), "x"), trusted(key)]
    )
    assert (outcome.status, outcome.key.name) == ("verified", "ci")


def test_cosign_refusals_say_why():
    key = signing.ec_key()
    assert verification.cosign([layer(key, OTHER)], DIGEST, [trusted(key)]).message == (
        f"the signature is over another digest ({OTHER}), not {DIGEST}"
    )
    untrusted = verification.cosign([layer(key)], DIGEST, [trusted(signing.ec_key(), "ci")])
    assert untrusted.status == "untrusted" and "tried: ci" in untrusted.message
    truncated = verification.cosign([layer(key, payload=b'{"critical":')], DIGEST, [trusted(key)])
    assert truncated.status == "invalid" and "not a simple signing payload" in truncated.message
    missing = verification.CosignLayer("sha256:" + "d" * 64, None, "x")
    assert "unreadable" in verification.cosign([missing], DIGEST, []).message
    # a tampered payload that still names the digest does not verify
    tampered = layer(key)
    changed = json.loads(tampered.payload)
    changed["optional"] = {"by": "someone else"}
    forged = verification.CosignLayer(
        tampered.digest, json.dumps(changed).encode(), tampered.signature
    )
    assert verification.cosign([forged], DIGEST, [trusted(key)]).status == "untrusted"


def test_notation_jws_envelopes():
    key = signing.ec_key()
    envelope = signing.notation_envelope(key, DIGEST)
    verified = verification.notation(signing.JWS, envelope, DIGEST, [trusted(key)])
    assert verified.status == "verified"
    by_certificate = verification.notation(signing.JWS, envelope, DIGEST, [])
    assert (
        by_certificate.status == "untrusted" and "harbor-py test signer" in by_certificate.message
    )
    other = verification.notation(signing.JWS, envelope, OTHER, [trusted(key)])
    assert other.status == "invalid" and "over another digest" in other.message
    doc = json.loads(envelope)
    doc["signature"] = doc["signature"][:-8] + "AAAAAAAA"
    broken = verification.notation(signing.JWS, json.dumps(doc).encode(), DIGEST, [])
    assert broken.status == "invalid" and "does not verify" in broken.message
    rsa_key = rsa.generate_private_key(65537, 2048)
    rsa_envelope = signing.notation_envelope(rsa_key, DIGEST)
    assert (
        verification.notation(signing.JWS, rsa_envelope, DIGEST, [trusted(rsa_key)]).status
        == "verified"
    )
    cose = verification.notation(verification.COSE_ENVELOPE, b"", DIGEST, [])
    assert cose.status == "invalid" and "COSE" in cose.message


def test_keys_are_checked():
    assert keys.parse(signing.public_pem(signing.ec_key())).algorithm == "ECDSA-P256"
    assert (
        keys.parse(signing.public_pem(ed25519.Ed25519PrivateKey.generate())).algorithm == "Ed25519"
    )
    weak = signing.public_pem(rsa.generate_private_key(65537, 1024))
    for bad in ("", "junk", "\ud800", weak):
        with pytest.raises(DomainError):
            keys.parse(bad)
    with pytest.raises(DomainError, match="unsupported curve"):
        keys.parse(signing.public_pem(signing.ec_key(ec.SECP521R1())))


def test_accessories_are_classified():
    key = signing.ec_key()
    doc, _ = signing.cosign_signature(key, DIGEST)
    parsed = parse_manifest(json.dumps(doc).encode(), signing.OCI_MANIFEST)
    assert classify(parsed, "sha256-" + "a" * 64 + ".sig") == (DIGEST, "signature.cosign")
    assert classify(parsed, "v1") == ("", "")
    assert classify(parsed, "sha256-" + "a" * 64 + ".att") == (DIGEST, "subject.accessory")
    referrer, _ = signing.notation_signature(key, DIGEST, 10)
    parsed = parse_manifest(json.dumps(referrer).encode(), signing.OCI_MANIFEST)
    assert classify(parsed, None) == (DIGEST, "signature.notation")
