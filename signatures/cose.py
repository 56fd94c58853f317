"""COSE_Sign1 (RFC 9052, section 4.2 and 4.4) verification, for Notation's COSE envelopes.

Written here over `cbor2` (CBOR) and `cryptography` (the signature) because no COSE
library fits: pycose's last release is 1.1.0 of December 2023, and `cwt` targets CBOR
Web Tokens (its COSE layer resolves keys from COSE_Key/kid and rejects Notation's
string-labelled critical headers). Verifying one COSE_Sign1 is small and fully
specified: decode the tagged array [protected, unprotected, payload, signature],
rebuild Sig_structure ["Signature1", protected, external_aad, payload] and check the
signature over its CBOR encoding with the algorithm the *protected* header names.
Nothing here signs, encrypts, or handles COSE_Sign (multiple signers) or COSE_Mac.

Algorithms (RFC 9053; those Notation signs with): ES256/384/512 (-7/-35/-36, the
signature is r||s, not DER) and PS256/384/512 (-37/-38/-39, RSASSA-PSS with MGF1 and a
salt as long as the hash). No Ed25519: Notation's COSE profile does not use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from signatures.keys import PublicKey

SIGN1_TAG = 18
ALG, CRIT, CONTENT_TYPE, X5CHAIN = 1, 2, 3, 33
MAX_ENVELOPE = 256 * 1024

_ECDSA = {-7: (hashes.SHA256, 32), -35: (hashes.SHA384, 48), -36: (hashes.SHA512, 66)}
_PSS = {-37: hashes.SHA256, -38: hashes.SHA384, -39: hashes.SHA512}
NAMES = {-7: "ES256", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512"}


class Malformed(ValueError):
    """Not a COSE_Sign1 this module can verify; the message says why."""


@dataclass(frozen=True)
class Sign1:
    protected_bytes: bytes  # as signed: the bstr's content, never re-encoded
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def algorithm(self) -> int:
        return int(self.protected[ALG])

    def to_be_signed(self, external_aad: bytes = b"") -> bytes:
        return cbor2.dumps(["Signature1", self.protected_bytes, external_aad, self.payload])


def decode(data: bytes) -> Sign1:
    """A tagged (or, as RFC 9052 allows, untagged) COSE_Sign1 with an attached payload."""
    if len(data) > MAX_ENVELOPE:
        raise Malformed("the COSE envelope is too large")
    try:
        item = cbor2.loads(data)
    except (ValueError, TypeError, EOFError, cbor2.CBORDecodeError) as exc:
        raise Malformed(f"the envelope is not CBOR: {exc}") from None
    if isinstance(item, cbor2.CBORTag):
        if item.tag != SIGN1_TAG:
            raise Malformed(f"CBOR tag {item.tag} is not COSE_Sign1 (18)")
        item = item.value
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise Malformed("a COSE_Sign1 is an array of four items")
    protected_bytes, unprotected, payload, signature = item
    if not isinstance(protected_bytes, bytes) or not isinstance(unprotected, Mapping):
        raise Malformed("the COSE headers are malformed")
    if payload is None:
        raise Malformed("a detached payload cannot be verified here")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise Malformed("the COSE payload or signature is not a byte string")
    try:
        protected = cbor2.loads(protected_bytes) if protected_bytes else {}
    except (ValueError, TypeError, EOFError, cbor2.CBORDecodeError) as exc:
        raise Malformed(f"the protected header is not CBOR: {exc}") from None
    if not isinstance(protected, Mapping):
        raise Malformed("the protected header is not a map")
    if ALG in unprotected:
        raise Malformed("the algorithm must be in the protected header")
    if protected.get(ALG) not in NAMES:
        raise Malformed(f"unsupported COSE algorithm {protected.get(ALG)!r}")
    return Sign1(protected_bytes, protected, unprotected, payload, signature)


def verifies(message: Sign1, key: PublicKey) -> bool:
    """Whether `key` verifies `message`'s signature with the algorithm it names (a key of
    another type than the algorithm's never does)."""
    algorithm, data = message.algorithm, message.to_be_signed()
    try:
        if algorithm in _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            hash_type, size = _ECDSA[algorithm]
            if len(message.signature) != 2 * size:
                return False
            r = int.from_bytes(message.signature[:size], "big")
            s = int.from_bytes(message.signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_type()))
            return True
        if algorithm in _PSS and isinstance(key, rsa.RSAPublicKey):
            hash_type = _PSS[algorithm]
            pss = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=padding.PSS.DIGEST_LENGTH)
            key.verify(message.signature, data, pss, hash_type())
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
