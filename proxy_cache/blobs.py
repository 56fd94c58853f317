"""Blobs of proxy-cache projects (docs/proxy-cache.md).

A cached blob never comes here: nginx sends blob GETs to distribution first and only a
404 to the gate. A miss on the filesystem driver is handed to nginx (`Handover`): the gate
decides (access, the upstream's URL and credentials, the single flight) and nginx fetches
the bytes, streams them to the client and stores them in a staging file that it keeps only
when the whole body arrived; its notice (`stored`) makes the gate check the file against
the digest and move it into distribution's storage. Otherwise (S3, a client resuming with
a Range, an upstream nginx cannot reach as configured) a miss streams from the upstream
to the client while a thread writes the same bytes into this registry's own distribution
(one upload, Content-Length declared):
distribution checks the digest before it links the blob, and a transfer that breaks off
(the upstream dies, the client goes) abandons the upload, so a partial blob is never
kept or served. The client does not wait for the blob to land.

Concurrent misses of one blob share the upstream fetch (proxy_cache.flights): the first
leads and streams; the others wait for it and are then served from the cache (or lead,
when the leader failed)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import httpx
from django.conf import settings

from harbor_py.core.errors import Code
from projects.models import Project
from proxy_cache import fetch_route, flights, manifests, selectors, services, upstreams
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
# a handed-over fetch's lease: nginx's notice ends it sooner (a fetch slower than this lets
# a waiting client lead a second one)
HANDOVER_BASE_SECONDS = 60.0
HANDOVER_BYTES_PER_SECOND = 1024 * 1024
HANDOVER_UNKNOWN_SECONDS = 240.0  # the size unknown (a HEAD answered with a redirect)
STAGED_WAIT_SECONDS = 10.0  # for a file nginx is still fetching after its client left
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class BlobStream:
    size: int  # the whole blob's, -1 when unknown
    chunks: Iterator[bytes]
    from_upstream: bool
    start: int = 0  # the first byte sent: a client resuming with `Range: bytes=<start>-`


@dataclass(frozen=True)
class Handover:
    """A blob miss for nginx to fetch (the X-Accel-Redirect answer, proxy_cache/gate.py)."""

    location: str  # nginx's fetch location (proxy_cache/fetch_route.py)
    url: str  # the blob's URL upstream, with the host's address
    host: str  # the upstream's Host header
    server_name: str  # the name its certificate is checked against (and SNI)
    authorization: str  # the Authorization header for it ("" for none)
    store: str  # where nginx stores the whole body (the staging file)
    flight: str  # the single flight's token, which nginx's notice brings back


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


def cached_size(name: str, digest: str) -> int | None:
    """The size of the blob cached in `name`, None when it is not."""
    return _local_size(name, digest)


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


def open_blob(
    project: Project,
    name: str,
    digest: str,
    start: int = 0,
    *,
    hand_over: bool = False,
    failed_flight: str = "",
) -> BlobStream | Handover:
    """The blob's bytes for a client, from byte `start` on (a client resuming a broken
    transfer): from the cache, or streamed from the upstream into the cache as they go to
    the client (the whole blob is fetched and cached; the first `start` bytes are not
    sent), or, when `hand_over` is allowed and possible, a Handover for nginx. Raises
    NotCached, also when the upstream fails before the first byte. `failed_flight`: the
    token of a fetch handed to nginx that the upstream did not answer with the blob (this
    request comes back from it): that flight ends, and this one is not handed over."""
    local = _open_local(name, digest, start)
    if local is not None:
        return local
    source = upstreams.of_project(project.registry_id)  # type: ignore[arg-type]  # a proxy project
    key = f"b:{source.endpoint_id}:{digest}"
    if failed_flight:
        hand_over = False  # never twice: nginx would loop between the two
        if _TOKEN.match(failed_flight):
            flights.release_token(key, failed_flight)
        logger.info("proxy cache: nginx's fetch of %s failed; streamed by the gate", digest)
    if upstreams.is_open(source.endpoint_id):
        raise _unreachable(source, name, "the upstream registry is marked unavailable")
    deadline = time.monotonic() + FOLLOW_SECONDS
    lock = flights.try_lead(key)
    while lock is None and time.monotonic() < deadline:
        _wait_for_leader(key, name, digest, deadline)
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
        if hand_over and lock is not None and not start:
            # a fetch whose client had gone may have landed after its notice
            if _import_leftover(name, digest) and (local := _open_local(name, digest)):
                flights.release(lock)
                return local
            handover = _handover(source, name, remote, digest, lock)
            if handover is not None:
                return handover
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
    chunks = _tee(
        source, name, digest, size, response, opened, lock, skip=start, project_id=project.pk
    )
    try:  # the first bytes before the answer: an upstream failing now is a 503, not a 500
        first = next(chunks)
    except StopIteration:
        return BlobStream(size, iter(()), from_upstream=True, start=start)
    except (httpx.HTTPError, httpx.StreamError) as exc:
        raise _unreachable(source, name, f"the transfer broke off: {exc}") from None
    return BlobStream(size, _Prepended(first, chunks), from_upstream=True, start=start)


class _Prepended:
    """`first`, then `rest`; closing it closes `rest` (the tee: its lock, its upload, its
    job-log line), as the WSGI server's close() of the response does, also when the client
    left before the end (Django closes a streamed body that has a close(); a chain has
    none, and the tee waited for the garbage collector)."""

    def __init__(self, first: bytes, rest: Generator[bytes, None, None]) -> None:
        self._first: bytes | None = first
        self._rest = rest

    def __iter__(self) -> _Prepended:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return next(self._rest)

    def close(self) -> None:
        self._rest.close()


def _wait_for_leader(key: str, name: str, digest: str, deadline: float) -> None:
    """Until the flight `key` ends. A fetch handed to nginx ends when its staging file
    lands: a waiting client takes it in itself rather than wait for nginx's notice, which
    needs a free gunicorn thread (twenty waiting clients could hold them all)."""
    staging = _staging_dir()
    while time.monotonic() < deadline:
        token = flights.holder(key)
        if token is None:
            return
        if staging is not None and _TOKEN.match(token):
            path = _staging_path(staging, digest, token)
            if os.path.exists(path) and _import_staged(name, digest, path):
                flights.release_token(key, token)
                return
        time.sleep(flights.POLL_SECONDS)


def _staging_dir() -> str | None:
    root = settings.HARBOR.get("STORAGE_ROOT")
    if not (root and settings.HARBOR.get("PROXY_NGINX_FETCH")):
        return None
    return str(settings.HARBOR["PROXY_STAGING_DIR"])


def _staging_path(staging: str, digest: str, token: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return os.path.join(staging, f"{algorithm}-{hex_digest}.{token}")


def _handover(
    source: upstreams.Upstream, name: str, remote: str, digest: str, lock: object
) -> Handover | None:
    """The fetch for nginx, when it can do it. None: stream it here.

    A blob that a manifest recorded here lists (what a cold pull asks for right after the
    manifest) is handed over at once, with the size the manifest gave and the adapter's
    token for the scope (renewed before it expires); else one HEAD upstream first (which
    also learns the size and fetches the token). Whatever nginx then meets that is not
    the blob (a 401 for a token this process never held, a 404, an error) comes back to
    the gate (`X-Harbor-Proxy-Failed`, deploy/nginx.conf), which streams or refuses as
    before; a redirect (a CDN) nginx follows."""
    staging = _staging_dir()
    if staging is None or source.fetch_location is None:
        return None
    adapter = source.adapter
    base = adapter.client.base_url
    address = fetch_route.address(base)
    if address is None:
        return None
    path = f"/v2/{remote}/blobs/{digest}"
    wanted = grants(remote, _PULL)
    size = selectors.listed_blob_size(name, digest)
    headers = adapter.ready_headers(wanted)  # type: ignore[attr-defined]  # a V2Client
    if size is None or headers is None:
        try:
            response = adapter.send("HEAD", path, wanted)  # type: ignore[attr-defined]  # a V2Client
        except TransferError:
            return None  # the stream path asks again and says why
        length = response.headers.get("Content-Length", "")
        if response.status_code == 200 and length.isdigit():
            size = int(length)
        elif not response.is_redirect:
            return None  # an error: the stream path reports it
        headers = adapter.headers_for(wanted)  # type: ignore[attr-defined]  # a V2Client
    os.makedirs(staging, exist_ok=True)
    flights.hand_over(
        lock,  # type: ignore[arg-type]  # a redis Lock
        HANDOVER_BASE_SECONDS
        + (HANDOVER_UNKNOWN_SECONDS if size is None else size / HANDOVER_BYTES_PER_SECOND),
    )
    token = flights.token_of(lock)  # type: ignore[arg-type]  # a redis Lock
    port = f":{base.port}" if base.port else ""
    return Handover(
        location=source.fetch_location,
        url=f"{base.scheme}://{address}{port}{base.path.rstrip('/')}{path}",
        host=base.netloc.decode(),
        server_name=base.host,
        authorization=headers.get("Authorization", ""),
        store=_staging_path(staging, digest, token),
        flight=token,
    )


def stored(project: Project, name: str, digest: str, flight: str) -> bool:
    """nginx's notice that a handed-over fetch ended: the staging file (present only when
    the whole body arrived) is checked against the digest and moved into storage; the
    flight ends. Whether the blob is cached now. The notice is not trusted: only the
    flight's token names the file, and the bytes are hashed."""
    staging = _staging_dir()
    if staging is None or not _TOKEN.match(flight):
        return False
    path = _staging_path(staging, digest, flight)
    # nginx renames the file once the last byte arrived; when its client went away first,
    # the notice comes first and the fetch goes on: wait for it a little (the next miss
    # picks up a file that lands later: _import_leftover)
    deadline = time.monotonic() + STAGED_WAIT_SECONDS
    while not (os.path.exists(path) or _stored_data(digest)) and time.monotonic() < deadline:
        time.sleep(0.1)
    landed = _import_staged(name, digest, path)
    source = upstreams.of_project(project.registry_id)  # type: ignore[arg-type]  # a proxy project
    flights.release_token(f"b:{source.endpoint_id}:{digest}", flight)
    services.log(
        project_id=project.pk,
        message=f"fetched blob {digest} of {name} from {source.endpoint_name} (by nginx): "
        + (
            "checked against the digest and cached"
            if landed
            else "not cached (the transfer broke off, or the bytes did not match)"
        ),
    )
    if landed:
        try:
            manifests.landed(name, digest)
        except Exception:  # the blob is cached; the bookkeeping is retried on the next
            logger.exception("proxy cache: after %s landed in %s", digest, name)
    else:
        logger.warning("proxy cache: the fetch of %s for %s left nothing to cache", digest, name)
    return landed


def _import_leftover(name: str, digest: str) -> bool:
    """A staging file of `digest` that landed after its notice: into storage."""
    staging = _staging_dir()
    if staging is None:
        return False
    algorithm, _, hex_digest = digest.partition(":")
    try:
        names = [n for n in os.listdir(staging) if n.startswith(f"{algorithm}-{hex_digest}.")]
    except FileNotFoundError:
        return False
    return any(_import_staged(name, digest, os.path.join(staging, n)) for n in names)


def _import_staged(name: str, digest: str, path: str) -> bool:
    """Move a complete staging file into distribution's filesystem layout (the blob's
    data, and the repository's link to it: what distribution writes when an upload
    completes), if its bytes hash to `digest`; the file is gone either way."""
    algorithm, _, hex_digest = digest.partition(":")
    try:
        with open(path, "rb") as handle:
            actual = hashlib.file_digest(handle, algorithm).hexdigest()
    except FileNotFoundError:  # taken in by a waiting client (checked there): link it here
        if not _stored_data(digest):
            return False
        _link(name, digest)
        return True
    except (OSError, ValueError) as exc:
        logger.warning("proxy cache: cannot read the staged %s: %s", digest, exc)
        with contextlib.suppress(OSError):
            os.unlink(path)
        return False
    if actual != hex_digest:
        logger.warning("proxy cache: the upstream's bytes for %s hash to %s", digest, actual)
        os.unlink(path)
        return False
    data = _data_path(digest)
    os.makedirs(os.path.dirname(data), exist_ok=True)
    try:
        if os.path.exists(data):
            os.unlink(path)
        else:
            _move(path, data)
    except FileNotFoundError:  # a concurrent taker moved it first
        if not _stored_data(digest):
            return False
    _link(name, digest)
    return True


def _storage_base() -> str:
    return os.path.join(settings.HARBOR["STORAGE_ROOT"], "docker", "registry", "v2")


def _data_path(digest: str) -> str:
    algorithm, _, hex_digest = digest.partition(":")
    return os.path.join(_storage_base(), "blobs", algorithm, hex_digest[:2], hex_digest, "data")


def _stored_data(digest: str) -> bool:
    return os.path.exists(_data_path(digest))


def _move(path: str, data: str) -> None:
    try:
        os.replace(path, data)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        partial = f"{data}.{os.getpid()}.{threading.get_ident()}.partial"
        shutil.copyfile(path, partial)
        os.replace(partial, data)
        os.unlink(path)


def _link(name: str, digest: str) -> None:
    """The repository's link to the blob, as distribution writes it."""
    algorithm, _, hex_digest = digest.partition(":")
    link_dir = os.path.join(_storage_base(), "repositories", name, "_layers", algorithm, hex_digest)
    os.makedirs(link_dir, exist_ok=True)
    link = os.path.join(link_dir, "link")
    partial = f"{link}.{os.getpid()}.{threading.get_ident()}.partial"
    with open(partial, "w") as handle:
        handle.write(digest)
    os.replace(partial, link)


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
    project_id: int,
) -> Generator[bytes, None, None]:
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
        services.log(
            project_id=project_id,
            message=f"fetched blob {digest} of {name} from {source.endpoint_name} (streamed): "
            + ("cached" if stored else f"not cached (ended after {received} of {size} bytes)"),
        )
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
