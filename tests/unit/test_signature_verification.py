"""signatures.verification and signatures.keys: pure checks over bytes (no registry)."""

from __future__ import annotations

import base64
import json

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from harbor_py.core.errors import DomainError
from registry.accessories import classify
from registry.manifests import parse_manifest
from signatures import cose, keys, verification
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


# RFC 9052 Appendix C.2.1: a COSE_Sign1 over "This is the content." by ES256 with the
# examples' P-256 key "11" (RFC 9052 Appendix C, the key set of C.7.1 in RFC 8152).
RFC_9052_C_2_1 = bytes.fromhex(
    "d28443a10126a10442313154546869732069732074686520636f6e74656e742e5840"
    "8eb33e4ca31d1c465ab05aac34cc6b23d58fef5c083106c4d25a91aef0b0117e"
    "2af9a291aa32e14ab834dc56ed2a223444547e01f11d3b0916e5a4c345cacb36"
)
RFC_KEY_11 = ec.EllipticCurvePublicNumbers(
    int("bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff", 16),
    int("20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e", 16),
    ec.SECP256R1(),
).public_key()


def test_cose_sign1_verifies_the_rfc_example_and_nothing_changed():
    message = cose.decode(RFC_9052_C_2_1)
    assert message.payload == b"This is the content." and message.algorithm == -7
    assert cose.verifies(message, RFC_KEY_11)
    assert not cose.verifies(message, signing.ec_key().public_key())
    tampered = bytearray(RFC_9052_C_2_1)
    tampered[RFC_9052_C_2_1.index(b"content")] ^= 0x20  # "Content"
    assert not cose.verifies(cose.decode(bytes(tampered)), RFC_KEY_11)
    flipped = bytearray(RFC_9052_C_2_1)
    flipped[-1] ^= 1
    assert not cose.verifies(cose.decode(bytes(flipped)), RFC_KEY_11)
    # an RSA key never verifies an ECDSA algorithm
    assert not cose.verifies(message, rsa.generate_private_key(65537, 2048).public_key())
    for bad, why in [
        (RFC_9052_C_2_1[:-10], "not CBOR"),
        (b"\xd1" + RFC_9052_C_2_1[1:], "not COSE_Sign1"),
        (bytes.fromhex("d28340a040"), "array of four"),
    ]:
        with pytest.raises(cose.Malformed, match=why):
            cose.decode(bad)


@pytest.mark.parametrize(
    "make",
    [
        signing.ec_key,
        lambda: signing.ec_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(65537, 2048),
    ],
    ids=["es256", "es384", "ps256"],
)
def test_notation_cose_envelopes_verify(make):
    key = make()
    envelope = signing.notation_cose_envelope(key, DIGEST)
    verified = verification.notation(
        signing.COSE, envelope, DIGEST, [trusted(signing.ec_key(), "x"), trusted(key)]
    )
    assert (verified.status, verified.key.name) == ("verified", "ci")
    # no trusted key: well formed and verified by its own certificate, but untrusted
    by_certificate = verification.notation(signing.COSE, envelope, DIGEST, [])
    assert by_certificate.status == "untrusted"
    assert "harbor-py test signer" in by_certificate.message
    untrusted = verification.notation(signing.COSE, envelope, DIGEST, [trusted(signing.ec_key())])
    assert untrusted.status == "untrusted" and "tried: ci" in untrusted.message


def _resigned_cose(envelope: bytes, change) -> bytes:
    """`envelope` with its parts changed by `change` (the signature left as it was)."""
    item = cbor2.loads(envelope)
    parts = list(item.value)
    change(parts)
    return cbor2.dumps(cbor2.CBORTag(18, parts))


def test_notation_cose_refusals_say_why():
    key = signing.ec_key()
    envelope = signing.notation_cose_envelope(key, DIGEST)
    keys_ = [trusted(key)]

    other = verification.notation(signing.COSE, envelope, OTHER, keys_)
    assert other.status == "invalid" and f"over another digest ({DIGEST})" in other.message

    # the payload swapped for one over another digest: the signature no longer verifies
    def swap_payload(parts):
        parts[2] = parts[2].replace(DIGEST.encode(), OTHER.encode())

    swapped = verification.notation(
        signing.COSE, _resigned_cose(envelope, swap_payload), OTHER, keys_
    )
    assert swapped.status == "invalid" and "does not verify" in swapped.message
    assert (
        verification.notation(signing.COSE, _resigned_cose(envelope, swap_payload), OTHER, [])
    ).status == "invalid"

    def flip_signature(parts):
        parts[3] = parts[3][:-1] + bytes([parts[3][-1] ^ 1])

    broken = verification.notation(
        signing.COSE, _resigned_cose(envelope, flip_signature), DIGEST, keys_
    )
    assert broken.status == "invalid" and "does not verify" in broken.message

    # the algorithm moved to the unprotected header (a downgrade attempt)
    def unprotect_alg(parts):
        parts[1] = {**parts[1], 1: -7}

    moved = verification.notation(
        signing.COSE, _resigned_cose(envelope, unprotect_alg), DIGEST, keys_
    )
    assert moved.status == "invalid" and "protected header" in moved.message

    truncated = verification.notation(signing.COSE, envelope[: len(envelope) // 2], DIGEST, keys_)
    assert truncated.status == "invalid" and "not a Notation COSE envelope" in truncated.message
    unreadable = verification.notation(signing.COSE, None, DIGEST, keys_)
    assert unreadable.status == "invalid" and "unreadable" in unreadable.message

    unknown = signing.notation_cose_envelope(
        key, DIGEST, critical=("io.cncf.notary.signingScheme", "x.unknown")
    )
    refused = verification.notation(signing.COSE, unknown, DIGEST, keys_)
    assert refused.status == "invalid" and "x.unknown" in refused.message
    # a COSE envelope served as JWS (or the reverse) is not read as the other
    assert verification.notation(signing.JWS, envelope, DIGEST, keys_).status == "invalid"


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
