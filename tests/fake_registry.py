"""An in-memory OCI distribution with Docker token auth, as an httpx MockTransport, for
testing the replication client and copier without processes."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from collections import Counter

import httpx

REALM = "http://fake/token"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry:
    def __init__(self, credentials: tuple[str, str] = ("admin", "pw")) -> None:
        self.credentials = credentials
        self.blobs: dict[str, dict[str, bytes]] = {}  # repository -> digest -> bytes
        self.manifests: dict[str, dict[str, tuple[bytes, str]]] = {}  # repo -> ref -> body
        self.uploads: dict[str, bytearray] = {}
        self.calls: Counter[str] = Counter()
        self.fail_next_puts = 0  # blob PUTs to fail with 500 (retries)
        self.corrupt: set[str] = set()  # digests served with a flipped byte
        self.lock = threading.Lock()
        self._ids = itertools.count(1)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- helpers for tests ------------------------------------------------------------
    def add_blob(self, repository: str, data: bytes) -> str:
        digest = sha(data)
        self.blobs.setdefault(repository, {})[digest] = data
        return digest

    def add_manifest(self, repository: str, tags: list[str], doc: dict, media_type: str) -> str:
        body = json.dumps(doc).encode()
        digest = sha(body)
        refs = self.manifests.setdefault(repository, {})
        for ref in [digest, *tags]:
            refs[ref] = (body, media_type)
        return digest

    # -- the server ---------------------------------------------------------------------
    def _token(self, request: httpx.Request) -> httpx.Response:
        expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        if request.headers.get("Authorization") != expected:
            return httpx.Response(401)
        scopes = sorted(request.url.params.get_list("scope"))
        self.calls["token"] += 1
        return httpx.Response(200, json={"token": "T|" + " ".join(scopes)})

    def _authorized(self, request: httpx.Request, repository: str, action: str) -> bool:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer T|"):
            return False
        for scope in auth[len("Bearer T|") :].split(" "):
            _, name, actions = scope.split(":")
            if name == repository and action in actions.split(","):
                return True
        return False

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if str(request.url).startswith(REALM):
            return self._token(request)
        if path == "/v2/":
            if not request.headers.get("Authorization", "").startswith("Bearer "):
                return self._challenge("")
            return httpx.Response(200, json={})
        match = re.match(r"^/v2/(.+?)/(blobs/uploads|manifests|blobs)/(.*)$", path)
        if not match:
            return httpx.Response(404)
        repository, kind, rest = match.groups()
        action = "pull" if request.method in ("GET", "HEAD") else "push"
        if request.method == "DELETE":
            action = "delete"
        if not self._authorized(request, repository, action):
            return self._challenge(f"repository:{repository}:{action}")
        with self.lock:
            self.calls[f"{request.method} {kind}"] += 1
        if kind == "manifests":
            return self._manifest(request, repository, rest)
        if kind == "blobs":
            return self._blob(request, repository, rest)
        return self._upload(request, repository, rest)

    def _challenge(self, scope: str) -> httpx.Response:
        value = f'Bearer realm="{REALM}",service="fake"'
        if scope:
            value += f',scope="{scope}"'
        return httpx.Response(401, headers={"WWW-Authenticate": value})

    def _manifest(self, request: httpx.Request, repository: str, ref: str) -> httpx.Response:
        refs = self.manifests.setdefault(repository, {})
        if request.method == "PUT":
            body = request.read()
            media_type = request.headers["Content-Type"]
            refs[ref] = refs[sha(body)] = (body, media_type)
            return httpx.Response(201, headers={"Docker-Content-Digest": sha(body)})
        if request.method == "DELETE":
            found = refs.pop(ref, None)
            return httpx.Response(202 if found else 404)
        if ref not in refs:
            return httpx.Response(404)
        body, media_type = refs[ref]
        headers = {"Content-Type": media_type, "Docker-Content-Digest": sha(body)}
        return httpx.Response(
            200, headers=headers, content=b"" if request.method == "HEAD" else body
        )

    def _blob(self, request: httpx.Request, repository: str, digest: str) -> httpx.Response:
        data = self.blobs.get(repository, {}).get(digest)
        if data is None:
            return httpx.Response(404)
        if digest in self.corrupt:
            data = bytes([data[0] ^ 1]) + data[1:]
        headers = {"Content-Length": str(len(data)), "Docker-Content-Digest": digest}
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=data)

    def _upload(self, request: httpx.Request, repository: str, upload: str) -> httpx.Response:
        params = request.url.params
        if request.method == "POST":
            mount, source = params.get("mount"), params.get("from")
            known = mount and source and mount in self.blobs.get(source, {})
            if known and self._authorized(request, source, "pull"):
                self.blobs.setdefault(repository, {})[mount] = self.blobs[source][mount]
                return httpx.Response(201)
            upload_id = str(next(self._ids))
            self.uploads[upload_id] = bytearray()
            location = f"http://fake/v2/{repository}/blobs/uploads/{upload_id}?state=x"
            return httpx.Response(202, headers={"Location": location})
        if request.method == "PATCH":
            self.uploads[upload].extend(request.read())
            return httpx.Response(202, headers={"Location": str(request.url)})
        if request.method == "PUT":
            body = request.read()
            with self.lock:
                if self.fail_next_puts:
                    self.fail_next_puts -= 1
                    return httpx.Response(500)
            data = bytes(self.uploads.pop(upload)) + body
            digest = params["digest"]
            if sha(data) != digest:
                return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID"}]})
            self.blobs.setdefault(repository, {})[digest] = data
            return httpx.Response(201)
        return httpx.Response(405)
