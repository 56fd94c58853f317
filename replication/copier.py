"""Copying one artifact between two registries, blob by blob, streamed.

For every blob of the manifest (children of an index first): HEAD at the destination
(skip when present), else a cross-repository mount from a repository of the destination
known to hold it, else a GET from the source streamed into the destination's upload,
with the digest verified chunk by chunk and an optional speed limit. Blobs go through a
small thread pool; a failed blob is retried with backoff, and each retry starts with a
new HEAD, so bytes that did arrive are not sent again. Manifests are put last.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from registry import accessories as accessory_rules
from registry.manifests import Descriptor, ManifestInvalid, parse_manifest
from replication.adapters.base import PUSH, RegistryAdapter, TransferError

CHUNK = 1 << 20  # read size of the source stream
UPLOAD_CHUNK = 16 << 20  # PATCH size with copy_by_chunk
WORKERS = 4
RETRIES = 3
BACKOFF_SECONDS = 1.0  # doubled on every retry, at most 10 s
MAX_DEPTH = 4
T = TypeVar("T")


class StopRequested(Exception):
    pass


class TokenBucket:
    """A byte rate limit shared by the workers of one task (rate in bytes per second)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.allowance = float(rate)
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def take(self, amount: int) -> None:
        with self.lock:
            now = time.monotonic()
            self.allowance = min(self.rate, self.allowance + (now - self.last) * self.rate)
            self.last = now
            self.allowance -= amount
            wait = -self.allowance / self.rate if self.allowance < 0 else 0.0
        if wait:
            time.sleep(wait)


@dataclass
class Copier:
    source: RegistryAdapter
    destination: RegistryAdapter
    speed_kb: int = 0
    chunked: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    log: Callable[[str], None] = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    # digest -> a destination repository that has it (for mounts), learned in this run
    known: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {"skipped": 0, "mounted": 0, "uploaded": 0, "bytes": 0}
    )

    def __post_init__(self) -> None:
        self.destination.probe_actions = PUSH
        self.bucket = TokenBucket(self.speed_kb * 1024) if self.speed_kb > 0 else None
        self.lock = threading.Lock()

    # -- blobs ------------------------------------------------------------------------
    def _verified(self, chunks: Iterable[bytes], digest: str) -> Iterator[bytes]:
        algorithm, _, expected = digest.partition(":")
        hasher = hashlib.new(algorithm)
        for chunk in chunks:
            if self.stop.is_set():
                raise StopRequested
            hasher.update(chunk)
            if self.bucket:
                self.bucket.take(len(chunk))
            yield chunk
        if hasher.hexdigest() != expected:
            raise TransferError(f"blob {digest} does not match its digest")

    def _blob_once(self, src_repo: str, dst_repo: str, blob: Descriptor, origin: str | None) -> str:
        digest = blob.digest
        if self.destination.has_blob(dst_repo, digest):
            return "skipped"
        location = None
        origin = self.known.get(digest) or origin
        if origin and origin != dst_repo:
            location = self.destination.mount(dst_repo, digest, origin)
            if location is None:
                return "mounted"
        with self.source.open_blob(src_repo, digest) as response:
            size = int(response.headers.get("Content-Length") or blob.size)
            self.destination.upload(
                dst_repo,
                digest,
                size,
                self._verified(response.iter_bytes(CHUNK), digest),
                location=location,
                chunk_size=UPLOAD_CHUNK if self.chunked else 0,
            )
        with self.lock:
            self.stats["bytes"] += size
        return "uploaded"

    def attempt(self, call: Callable[[], T], what: str, notes: list[str] | None = None) -> T:
        """Run one idempotent step, retried with backoff on transfer errors (a registry
        that went away for a moment); retry notes go to `notes` (logged by the caller)."""
        for attempt in range(RETRIES + 1):
            try:
                return call()
            except StopRequested:
                raise
            except (TransferError, OSError) as exc:
                if attempt == RETRIES or (isinstance(exc, TransferError) and exc.refused):
                    status = exc.status if isinstance(exc, TransferError) else 0
                    raise TransferError(f"{what}: {exc}", status) from exc
                if notes is not None:
                    notes.append(f"retrying {what} after: {exc}")
                self.sleep(min(BACKOFF_SECONDS * 2**attempt, 10.0))
        raise AssertionError("unreachable")

    def blob(
        self,
        src_repo: str,
        dst_repo: str,
        blob: Descriptor,
        origin: str | None = None,
        notes: list[str] | None = None,
    ) -> None:
        """Copy one blob with retries, each starting with a new HEAD."""
        outcome = self.attempt(
            lambda: self._blob_once(src_repo, dst_repo, blob, origin), f"blob {blob.digest}", notes
        )
        with self.lock:
            self.stats[outcome] += 1
            self.known[blob.digest] = dst_repo

    # -- manifests ----------------------------------------------------------------------
    def manifest(
        self,
        src_repo: str,
        dst_repo: str,
        digest: str,
        tags: Iterable[str] = (),
        depth: int = 0,
        log: Callable[[str], None] | None = None,
        accessories: bool = True,
    ) -> None:
        """Copy the manifest `digest` (children and blobs first), point `tags` at it, then
        copy its accessories (the artifacts whose subject it is). The tags are written
        last: a tag never names an artifact whose parts are not all at the destination.
        Thread-safe: runs may copy several artifacts at once with one Copier."""
        log = log or self.log
        if self.stop.is_set():
            raise StopRequested
        notes: list[str] = []
        try:
            self._manifest(src_repo, dst_repo, digest, tuple(tags), depth, notes, accessories)
        finally:
            for note in notes:
                log(note)

    def _manifest(
        self,
        src_repo: str,
        dst_repo: str,
        digest: str,
        tags: tuple[str, ...],
        depth: int,
        notes: list[str],
        accessories: bool,
        subject: str | None = None,
    ) -> None:
        """`subject`: the artifact this one is an accessory of (a cosign tag-scheme
        signature is put under its `sha256-<hex>.sig` tag, which is its link)."""
        found = self.attempt(
            lambda: self.source.manifest(src_repo, digest), f"GET manifest {digest}", notes
        )
        if found is None:
            raise TransferError(
                f"{src_repo}@{digest} is no longer at the source (deleted after it was listed)"
            )
        body, media_type = found
        try:
            parsed = parse_manifest(body, media_type)
        except ManifestInvalid as exc:
            raise TransferError(f"manifest {digest} is invalid: {exc}") from None
        if depth >= MAX_DEPTH:
            raise TransferError(f"{digest} is nested deeper than {MAX_DEPTH} levels")
        if subject and not tags and parsed.subject is None:
            scheme_tag = accessory_rules.cosign_tag(subject)
            if accessory_rules.classify(parsed, scheme_tag) == (subject, accessory_rules.COSIGN):
                tags = (scheme_tag,)
        for child in parsed.children:
            if not self._present(dst_repo, child.digest, notes):
                self._manifest(src_repo, dst_repo, child.digest, (), depth + 1, notes, False)
        own = ([parsed.config] if parsed.config else []) + parsed.layers
        blobs = list({d.digest: d for d in own if not d.urls}.values())
        if blobs:
            # locate() may read the database: here, not in the pool's threads
            origins = {
                b.digest: self.known.get(b.digest) or self.destination.locate(b.digest)
                for b in blobs
            }
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(blobs))) as pool:
                futures = [
                    pool.submit(self.blob, src_repo, dst_repo, b, origins[b.digest], notes)
                    for b in blobs
                ]
                errors = [f.exception() for f in futures if f.exception() is not None]
            if errors:
                raise errors[0]  # type: ignore[misc]  # only the futures that raised are kept
        references = list(tags) or [digest]
        for reference in references:
            self.attempt(
                lambda ref=reference: self.destination.put_manifest(  # type: ignore[misc]  # the default binds the loop variable
                    dst_repo, ref, body, parsed.media_type
                ),
                f"PUT manifest {dst_repo}:{reference}",
                notes,
            )
        notes.append(f"{dst_repo}@{digest} put as {', '.join(references)}")
        if accessories:
            self._accessories(src_repo, dst_repo, digest, depth, notes)

    def _present(self, repository: str, digest: str, notes: list[str]) -> bool:
        found = self.attempt(
            lambda: self.destination.manifest_digest(repository, digest),
            f"HEAD manifest {digest}",
            notes,
        )
        return found is not None

    def _accessories(
        self, src_repo: str, dst_repo: str, digest: str, depth: int, notes: list[str]
    ) -> None:
        """Signatures, SBOMs... (OCI 1.1 subject) follow their subject, by digest."""
        referrers = self.attempt(
            lambda: self.source.referrers(src_repo, digest), f"referrers of {digest}", notes
        )
        for accessory in referrers:
            if self._present(dst_repo, accessory, notes):
                continue
            notes.append(f"accessory {accessory} of {digest}")
            self._manifest(src_repo, dst_repo, accessory, (), depth + 1, notes, True, digest)
