"""Reading a signature's manifest and blobs from storage (or distribution), for the pure
checks of signatures.verification."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from registry import storage_probe, upstream
from registry.accessories import COSIGN
from registry.models import Artifact
from signatures import verification

logger = logging.getLogger(__name__)
MAX_BLOB = 256 * 1024  # a payload or an envelope; larger is no signature of ours


class Unreadable(Exception):
    """The signature cannot be read, for good (gone, corrupt): a verdict to store."""


class Unavailable(Exception):
    """The registry could not be asked now: no verdict to store, try again later."""


def _transient(exc: httpx.HTTPError) -> bool:
    return not isinstance(exc, httpx.HTTPStatusError) or exc.response.status_code >= 500


def _manifest(repository: str, digest: str) -> dict[str, Any]:
    try:
        doc = json.loads(upstream.fetch_manifest(repository, digest))
    except httpx.HTTPError as exc:
        if _transient(exc):
            raise Unavailable(f"the registry did not answer: {exc}") from None
        raise Unreadable(f"the signature manifest {digest} is unreadable: {exc}") from None
    except ValueError as exc:
        raise Unreadable(f"the signature manifest {digest} is unreadable: {exc}") from None
    if not isinstance(doc, dict):
        raise Unreadable(f"the signature manifest {digest} is not a JSON object")
    return doc


def _blob(repository: str, digest: str) -> bytes | None:
    data = storage_probe.read_small_blob(digest, MAX_BLOB)
    if isinstance(data, bytes):
        return data
    if data is None:
        return None  # absent, too large, or not matching its digest
    try:
        return upstream.fetch_small_blob(repository, digest, MAX_BLOB)
    except httpx.HTTPError as exc:
        if _transient(exc):
            raise Unavailable(f"the registry did not answer: {exc}") from None
        logger.info("signature blob %s of %s not read: %s", digest, repository, exc)
        return None
    except (upstream.BlobTooLarge, ValueError) as exc:
        logger.info("signature blob %s of %s not read: %s", digest, repository, exc)
        return None


def _layers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    layers = doc.get("layers")
    return (
        [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []
    )


def check(
    signature: Artifact, repository: str, subject: str, keys: list[verification.Key]
) -> verification.Outcome:
    """Verify the signature accessory `signature` of `subject` with `keys`. Raises
    Unavailable when the registry cannot be asked now."""
    try:
        doc = _manifest(repository, signature.digest)
    except Unreadable as exc:
        return verification.Outcome(verification.INVALID, str(exc))
    if signature.accessory_type == COSIGN:
        layers = [
            verification.CosignLayer(
                digest=str(layer.get("digest", "")),
                payload=_blob(repository, str(layer.get("digest", ""))),
                signature=(layer.get("annotations") or {}).get(verification.SIGNATURE_ANNOTATION),
            )
            for layer in _layers(doc)
            if layer.get("mediaType") == "application/vnd.dev.cosign.simplesigning.v1+json"
        ]
        return verification.cosign(layers, subject, keys)
    envelopes = _layers(doc)
    if len(envelopes) != 1:
        return verification.Outcome(
            verification.INVALID, "a Notation signature has exactly one envelope layer"
        )
    envelope = envelopes[0]
    media_type = str(envelope.get("mediaType", ""))
    data = None
    if media_type in (verification.JWS_ENVELOPE, verification.COSE_ENVELOPE):
        data = _blob(repository, str(envelope.get("digest", "")))
    return verification.notation(media_type, data, subject, keys)
