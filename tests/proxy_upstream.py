"""An upstream registry for proxy-cache tests: a real distribution (plain, or behind
htpasswd) on a TCP port, fronted by a small fault-injecting relay that keeps an access log.

    with bare_registry(tmp) as registry:          # host:port of distribution itself
        with FaultyRelay(registry.url) as relay:   # what the proxy project points at
            relay.mode = "down"                     # every request: connection closed
            relay.cut_next_blob = 4096              # the next blob GET breaks off after 4 KiB
            relay.fail_next_blob_get = 401          # the next blob GET (not HEAD) answers 401
            relay.redirect_blobs_to = cdn.url       # blob GETs: 307 to another relay (a CDN)
            cdn.refuse_authorization = True         # 400 to a request with credentials
            relay.count("GET", "/blobs/")           # the access log

Clients push straight to distribution (`push_image`), the proxy pulls through the relay.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.distribution_process import serving
from tests.imagegen import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer
from tests.stack import DOCKER_REGISTRY, free_port
from tests.tls import tls_material

CONFIG = """
version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http: {{addr: "127.0.0.1:{port}"{tls}}}
{auth}
"""
HTPASSWD_AUTH = """auth:
  htpasswd: {{realm: upstream, path: {path}}}
"""


@dataclass
class BareRegistry:
    host: str
    auth: tuple[str, str] | None = None
    ca: str = ""  # the PEM of the CA of its certificate, when it serves HTTPS

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://{self.host}"

    def client(self) -> httpx.Client:
        verify = ssl.create_default_context(cadata=self.ca) if self.ca else True
        return httpx.Client(base_url=self.url, auth=self.auth, timeout=60, verify=verify)


@contextmanager
def bare_registry(
    base: Path, *, htpasswd: tuple[str, str] | None = None, tls_name: str = ""
) -> Iterator[BareRegistry]:
    """A distribution on a free port; `tls_name`: over HTTPS, with a certificate for that
    name from a private CA (BareRegistry.ca)."""
    if not shutil.which(DOCKER_REGISTRY):
        import pytest

        pytest.skip("docker-registry is not installed")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        path = base / "htpasswd"
        user, password = htpasswd
        path.write_text(f"{user}:{_bcrypt(password)}\n")
        auth = HTPASSWD_AUTH.format(path=path)
    tls, ca, scheme = "", "", "http"
    if tls_name:
        cert_file, key_file, ca = tls_material(base, tls_name)
        tls = f", tls: {{certificate: {cert_file}, key: {key_file}}}"
        scheme = "https"
    config = CONFIG.format(root=base / "storage", port=port, auth=auth, tls=tls)

    def answers() -> bool:
        try:
            answer = httpx.get(f"{scheme}://127.0.0.1:{port}/v2/", timeout=2, verify=False)
        except httpx.HTTPError:
            return False
        return answer.status_code in (200, 401)

    with serving(base, config, ready=answers, poll=0.1):
        yield BareRegistry(f"{tls_name or '127.0.0.1'}:{port}", htpasswd, ca)


def _bcrypt(password: str) -> str:
    """distribution's htpasswd takes bcrypt only; libcrypt makes it (no htpasswd binary)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))


# -- pushing straight to the upstream --------------------------------------------------
def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def put_blob(registry: BareRegistry, repository: str, data: bytes) -> str:
    digest = _digest(data)
    with registry.client() as client:
        started = client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        done = client.put(
            httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
    return digest


def put_manifest(registry: BareRegistry, repository: str, reference: str, doc: dict) -> str:
    body = json.dumps(doc).encode()
    with registry.client() as client:
        response = client.put(
            f"/v2/{repository}/manifests/{reference}",
            content=body,
            headers={"Content-Type": doc["mediaType"]},
        )
    assert response.status_code == 201, response.text
    return _digest(body)


@dataclass
class PushedImage:
    digest: str
    manifest: dict
    blobs: dict[str, bytes] = field(default_factory=dict)  # config and layers by digest


def push_image(
    registry: BareRegistry,
    repository: str,
    tag: str | None,
    *,
    layer_sizes: tuple[int, ...] = (300_000, 5000),
    architecture: str = "amd64",
) -> PushedImage:
    blobs: dict[str, bytes] = {}
    layers = []
    for size in layer_sizes:
        data = random_layer(size)
        blobs[put_blob(registry, repository, data)] = data
        layers.append({"mediaType": OCI_LAYER_GZIP, "digest": _digest(data), "size": len(data)})
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Labels": {"nonce": random_layer(8).hex()[:16]}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    blobs[put_blob(registry, repository, config)] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
        "layers": layers,
    }
    digest = put_manifest(
        registry, repository, tag or _digest(json.dumps(manifest).encode()), manifest
    )
    return PushedImage(digest, manifest, blobs)


def push_index(
    registry: BareRegistry, repository: str, tag: str, architectures: tuple[str, ...]
) -> tuple[str, list[PushedImage]]:
    children = [
        push_image(registry, repository, None, layer_sizes=(20_000,), architecture=arch)
        for arch in architectures
    ]
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": child.digest,
                "size": len(json.dumps(child.manifest).encode()),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for child, arch in zip(children, architectures, strict=True)
        ],
    }
    return put_manifest(registry, repository, tag, index), children


def delete_manifest(registry: BareRegistry, repository: str, digest: str) -> None:
    with registry.client() as client:
        response = client.delete(f"/v2/{repository}/manifests/{digest}")
    assert response.status_code == 202, response.text


# -- the relay --------------------------------------------------------------------------
class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A connection the relay dropped on purpose (a fault) fails its handler's flush."""


class FaultyRelay:
    """Relays HTTP to `target`, logging every request; faults on demand:
    mode "ok" | "down" (the connection is closed unanswered) | an HTTP status to answer
    with (e.g. 429, 503); cut_next_blob: the next blob GET sends its headers and this many
    bytes of the body, then the connection is dropped; fail_next_blob_get: the next blob
    GET (HEADs pass) answers this status; redirect_blobs_to: every blob GET answers 307 to
    the same path (and a signature in the query) on that URL, as Docker Hub sends blob
    GETs to its CDN; refuse_authorization: a request with an Authorization header gets
    400, as a CDN's signed URL refuses a second credential."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode: str | int = "ok"
        self.cut_next_blob: int | None = None
        self.cut_only: str = ""  # a digest: cut_next_blob waits for a GET of that blob
        self.fail_next_blob_get: int | None = None
        self.redirect_blobs_to: str | None = None
        self.refuse_authorization = False
        self.log: list[tuple[str, str, int]] = []
        self.blob_bytes = 0  # body bytes of blob GETs relayed
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", free_port()), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultyRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, method: str, fragment: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.log if m == method and fragment in p)

    def clear(self) -> None:
        with self._lock:
            self.log.clear()
            self.blob_bytes = 0

    def _take_cut(self, method: str, path: str) -> int | None:
        with self._lock:
            wanted = self.cut_only or "/blobs/sha256:"
            if (
                method == "GET"
                and "/blobs/sha256:" in path
                and wanted in path
                and (self.cut_next_blob is not None)
            ):
                cut, self.cut_next_blob = self.cut_next_blob, None
                return cut
            return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                method = self.command
                mode = relay.mode
                with relay._lock:
                    relay.log.append((method, self.path, 0 if mode == "ok" else -1))
                if mode == "down":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                blob_get = method == "GET" and "/blobs/sha256:" in self.path
                if relay.redirect_blobs_to and blob_get:
                    self.send_response(307)
                    self.send_header("Location", f"{relay.redirect_blobs_to}{self.path}?sig=x")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if relay.refuse_authorization and self.headers.get("Authorization"):
                    mode = 400
                if blob_get and relay.fail_next_blob_get is not None:
                    with relay._lock:
                        mode, relay.fail_next_blob_get = relay.fail_next_blob_get, None
                if isinstance(mode, int):
                    body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "x"}]})
                    self.send_response(mode)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    if mode == 401:
                        self.send_header("WWW-Authenticate", 'Basic realm="upstream"')
                    self.end_headers()
                    self.wfile.write(body.encode())
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body_in = self.rfile.read(length) if length else None
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "connection", "content-length")
                }
                cut = relay._take_cut(method, self.path)
                with (
                    httpx.Client(timeout=60) as client,
                    client.stream(
                        method, relay.target + self.path, headers=headers, content=body_in
                    ) as answer,
                ):
                    self.send_response(answer.status_code)
                    for name, value in answer.headers.items():
                        if name.lower() not in ("connection", "transfer-encoding", "date"):
                            self.send_header(name, value)
                    if "content-length" not in answer.headers:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    if method == "HEAD":
                        return
                    sent = 0
                    for chunk in answer.iter_raw(65536):
                        if cut is not None and sent + len(chunk) >= cut:
                            self.wfile.write(chunk[: cut - sent])
                            self.wfile.flush()
                            self.close_connection = True
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        self.wfile.write(chunk)
                        sent += len(chunk)
                    if "/blobs/sha256:" in self.path:
                        with relay._lock:
                            relay.blob_bytes += sent

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _relay

        return Handler
