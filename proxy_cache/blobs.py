"""Blobs of proxy-cache projects (docs/proxy-cache.md).

A cached blob never comes here: nginx sends blob GETs to distribution first and only a
404 to the gate. A miss streams from the upstream to the client while a thread writes the
same bytes into this registry's own distribution (one upload, Content-Length declared):
distribution checks the digest before it links the blob, and a transfer that breaks off
(the upstream dies, the client goes) abandons the upload, so a partial blob is never
kept or served. The client does not wait for the blob to land.

Concurrent misses of one blob share the upstream fetch (proxy_cache.flights): the first
leads and streams; the others wait for it and are then served from the cache (or lead,
when the leader failed)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from harbor_py.core.errors import Code
from projects.models import Project
from proxy_cache import flights, manifests, upstreams
from proxy_cache.manifests import NotCached
from registry import storage_probe, upstream
from replication.adapters.base import PUSH, TransferError, grants
from replication.local import LocalRegistry

logger = logging.getLogger(__name__)

# bytes per write to the client and the cache: four of httpcore's 64 KiB reads (fewer
# Python round trips per MiB; the first bytes still leave before the answer is decided)
CHUNK = 256 * 1024
FOLLOW_SECONDS = 900.0  # how long a concurrent miss waits for the leader's fetch
EXTEND_EVERY = 5.0
_PULL = frozenset({"pull"})
_END, _ABORT = object(), object()


@dataclass
class BlobStream:
    size: int  # the whole blob's, -1 when unknown
    chunks: Iterator[bytes]
    from_upstream: bool
    start: int = 0  # the first byte sent: a client resuming with `Range: bytes=<start>-`


def head(project: Project, name: str, digest: str) -> int | None:
    """The blob's size: the cache's, else the upstream's (None: unknown there)."""
    size = _local_size(name, digest)
    if size is not None:
        return size
    source = upstreams.of_project(project.registry_id)  # type: ignore[arg-type]  # a proxy project
    if upstreams.is_open(source.endpoint_id):
        raise _unreachable(source, name, "the upstream registry is marked unavailable")
    remote = source.remote_name(name)
    adapter = source.adapter
    try:
        response = adapter.send(  # type: ignore[attr-defined]  # every adapter is a V2Client
            "HEAD", f"/v2/{remote}/blobs/{digest}", grants(remote, frozenset({"pull"}))
        )
    except TransferError as exc:
        upstreams.failed(source.endpoint_id, str(exc))
        raise _unreachable(source, name, str(exc)) from None
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        error = TransferError(f"HEAD blob {remote}@{digest}: HTTP {response.status_code}")
        error.status = response.status_code
        if upstreams.unavailable(error):
            upstreams.failed(source.endpoint_id, str(error))
        raise _unreachable(source, name, str(error))
    upstreams.succeeded(source.endpoint_id)
    return int(response.headers.get("Content-Length") or 0)


def _unreachable(source: upstreams.Upstream, name: str, reason: str) -> NotCached:
    return NotCached(
        Code.SERVICE_UNAVAILABLE,
        f"the blob is not cached in {name} and the upstream registry "
        f"{source.endpoint_name} cannot serve it: {reason}",
    )


def _local_size(name: str, digest: str) -> int | None:
    size = storage_probe.linked_blob_size(name, digest)
    if size is storage_probe.UNKNOWN:
        response = upstream.request("HEAD", name, f"/v2/{name}/blobs/{digest}", _PULL)
        if response.status_code != 200:
            return None
        return int(response.headers.get("Content-Length") or 0)
    return size  # type: ignore[return-value]  # an int or None here


def _open_local(name: str, digest: str, start: int = 0) -> BlobStream | None:
    if _local_size(name, digest) is None:
        return None
    token = upstream.internal_token(name, _PULL)
    headers = {"Authorization": f"Bearer {token}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    client = upstream.client()
    request = client.build_request("GET", f"/v2/{name}/blobs/{digest}", headers=headers)
    response = client.send(request, stream=True)
    if response.status_code == 206:  # Content-Range: bytes <start>-<last>/<size>
        size = int(response.headers.get("Content-Range", "/-1").rsplit("/", 1)[1])
        return BlobStream(size, _relay(response), from_upstream=False, start=start)
    if response.status_code != 200:
        response.close()
        return None
    size = int(response.headers.get("Content-Length") or 0)
    return BlobStream(size, _relay(response), from_upstream=False)


def _relay(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_raw(CHUNK)
    finally:
        response.close()


def open_blob(project: Project, name: str, digest: str, start: int = 0) -> BlobStream:
    """The blob's bytes for a client, from byte `start` on (a client resuming a broken
    transfer): from the cache, or streamed from the upstream into the cache as they go to
    the client (the whole blob is fetched and cached; the first `start` bytes are not
    sent). Raises NotCached, also when the upstream fails before the first byte."""
    local = _open_local(name, digest, start)
    if local is not None:
        return local
    source = upstreams.of_project(project.registry_id)  # type: ignore[arg-type]  # a proxy project
    if upstreams.is_open(source.endpoint_id):
        raise _unreachable(source, name, "the upstream registry is marked unavailable")
    key = f"b:{source.endpoint_id}:{digest}"
    deadline = time.monotonic() + FOLLOW_SECONDS
    lock = flights.try_lead(key)
    while lock is None and time.monotonic() < deadline:
        flights.wait_for(key, deadline - time.monotonic())
        local = _open_local(name, digest, start)
        if local is not None:
            return local
        lock = flights.try_lead(key)
    try:
        local = _open_local(name, digest, start)  # the flight before may have landed it
        if local is not None:
            if lock is not None:
                flights.release(lock)
            return local
        remote = source.remote_name(name)
        opened = source.adapter.open_blob(remote, digest)
        response = opened.__enter__()
    except TransferError as exc:
        if lock is not None:
            flights.release(lock)
        if exc.status == 404:
            raise NotCached(Code.NOT_FOUND, f"blob unknown to the upstream: {digest}") from None
        if upstreams.unavailable(exc):
            upstreams.failed(source.endpoint_id, str(exc))
        raise _unreachable(source, name, str(exc)) from None
    except BaseException:
        if lock is not None:
            flights.release(lock)
        raise
    upstreams.succeeded(source.endpoint_id)
    length = response.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else -1
    if size >= 0 and start >= size:
        start = 0  # a range past the end: the whole blob
    chunks = _tee(source, name, digest, size, response, opened, lock, skip=start)
    try:  # the first bytes before the answer: an upstream failing now is a 503, not a 500
        first = next(chunks)
    except StopIteration:
        return BlobStream(size, iter(()), from_upstream=True, start=start)
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise _unreachable(source, name, f"the transfer broke off: {exc}") from None
    return BlobStream(size, itertools.chain([first], chunks), from_upstream=True, start=start)


def _tee(
    source: upstreams.Upstream,
    name: str,
    digest: str,
    size: int,
    response: httpx.Response,
    opened: contextlib.AbstractContextManager[httpx.Response],
    lock: object,
    *,
    skip: int = 0,
) -> Iterator[bytes]:
    """The upstream's bytes to the client (but the first `skip`), and the same bytes into
    the cache."""
    writer = _LocalWriter(name, digest, size) if size >= 0 else None
    received, complete, extended = 0, False, time.monotonic()
    try:
        for chunk in response.iter_raw(CHUNK):
            before, received = received, received + len(chunk)
            if writer is not None:
                writer.feed(chunk)
            if received > skip:
                yield chunk[max(0, skip - before) :]
            if lock is not None and time.monotonic() - extended > EXTEND_EVERY:
                flights.extend(lock)  # type: ignore[arg-type]  # a redis Lock
                extended = time.monotonic()
        # distribution checks the digest when the upload closes (the bytes are not hashed
        # twice): a blob that does not match is refused there, never linked
        complete = received == size
    except (httpx.HTTPError, httpx.StreamError) as exc:
        upstreams.failed(
            source.endpoint_id, f"blob {digest} broke off after {received} bytes: {exc}"
        )
        raise
    finally:
        with contextlib.suppress(Exception):
            opened.__exit__(None, None, None)
        stored = writer.finish(complete) if writer is not None else False
        if lock is not None:
            flights.release(lock)  # type: ignore[arg-type]  # a redis Lock
        if stored:
            try:
                manifests.landed(name, digest)
            except Exception:  # the blob is cached; the bookkeeping is retried on the next
                logger.exception("proxy cache: after %s landed in %s", digest, name)


class _Aborted(Exception):
    pass


class _LocalWriter:
    """One upload into this registry's distribution, fed chunk by chunk from another
    thread (a bounded queue: a slow disk slows the client rather than filling memory)."""

    def __init__(self, name: str, digest: str, size: int) -> None:
        self.name, self.digest, self.size = name, digest, size
        self._queue: queue.Queue[object] = queue.Queue(maxsize=32)
        self._failed: BaseException | None = None
        self._stored = False
        self._location: str | None = None
        self._local = LocalRegistry()
        self._thread = threading.Thread(target=self._run, name="proxy-cache-writer", daemon=True)
        self._thread.start()

    def _chunks(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if item is _ABORT:
                raise _Aborted(self.digest)
            yield item  # type: ignore[misc]  # bytes

    def _run(self) -> None:
        try:
            self._location = self._local.start_upload(self.name)
            self._local.upload(
                self.name, self.digest, self.size, self._chunks(), location=self._location
            )
            self._stored = True
        except BaseException as exc:  # reported through finish()
            self._failed = exc

    def feed(self, item: object) -> None:
        while self._failed is None and self._thread.is_alive():
            try:
                self._queue.put(item, timeout=1.0)
                return
            except queue.Full:
                continue

    def finish(self, complete: bool) -> bool:
        """Close the upload (complete) or abandon it; whether the blob is stored now."""
        self.feed(_END if complete else _ABORT)
        self._thread.join(timeout=300)
        if not self._stored:
            if self._failed is not None and not isinstance(self._failed, _Aborted):
                logger.warning("proxy cache: caching %s failed: %s", self.digest, self._failed)
            if self._location:
                with contextlib.suppress(Exception):
                    self._local.send("DELETE", self._location, grants(self.name, PUSH)).close()
        return self._stored
