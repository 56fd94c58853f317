"""A small OCI distribution client for replication, over httpx.

`RemoteRegistry` talks to another registry with Bearer token auth: a 401's
WWW-Authenticate challenge sends it to the remote's token realm with the endpoint's Basic
credentials, and tokens are cached per set of scopes. `LocalRegistry` talks to this
instance's own distribution (registry.upstream's pooled client and internal tokens) and
records every manifest it writes in the database, so pulled-in artifacts appear in the API
(see docs/architecture.md, "Replication").

Blob bytes are streamed: `open_blob` yields the source response, `upload` sends an
iterator of chunks (one PUT with Content-Length, or PATCH chunks for copy_by_chunk).
"""

from __future__ import annotations

import base64
import contextlib
import re
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from registry.manifests import MANIFEST_ACCEPT, digest_of

Grants = tuple[tuple[str, frozenset[str]], ...]  # (repository, actions)
PULL, PUSH = frozenset({"pull"}), frozenset({"pull", "push"})
DELETE = frozenset({"pull", "delete"})
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class TransferError(Exception):
    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status that refused, 0 when there was no answer

    @property
    def refused(self) -> bool:
        """Refused for good (credentials, permissions): retrying cannot help."""
        return self.status in (401, 403)


@dataclass(frozen=True)
class SourceArtifact:
    digest: str
    tags: tuple[str, ...]
    labels: frozenset[str] = frozenset()
    # digests of its accessories (artifacts whose subject it is), when the listing knows them
    accessories: tuple[str, ...] = ()


@dataclass
class Inventory:
    """What one destination repository holds: its tags and the digests of its artifacts
    (accessories and index children included), read once per repository and run."""

    tags: dict[str, str]
    digests: set[str]
    # asks about a digest the listing does not show (a plain registry lists tags only)
    probe: Callable[[str], bool] | None = None

    def has(self, digest: str) -> bool:
        return digest in self.digests or (self.probe is not None and self.probe(digest))

    def holds(self, digest: str, tags: Iterable[str], accessories: Iterable[str]) -> bool:
        return (
            all(self.tags.get(tag) == digest for tag in tags)
            and self.has(digest)
            and all(self.has(accessory) for accessory in accessories)
        )


def grants(repository: str, actions: frozenset[str], *also: tuple[str, frozenset[str]]) -> Grants:
    return ((repository, actions), *also)


def _scopes(wanted: Grants) -> list[str]:
    return [f"repository:{repo}:{','.join(sorted(acts))}" for repo, acts in wanted]


def _refusal(status: int, body: str) -> str:
    if status in (401, 403) and '"DENIED"' in body:
        return f"denied (HTTP {status}): the registry endpoint's account may not do this here"
    if status == 401:
        return "unauthorized (HTTP 401): check the registry endpoint's credentials"
    if status == 403:
        return "forbidden (HTTP 403): the registry endpoint's account lacks the permission"
    return f"HTTP {status}"


def verification(endpoint: Any) -> ssl.SSLContext | bool:
    """httpx's `verify`: off when insecure, the endpoint's own CA bundle when given."""
    if endpoint.insecure:
        return False
    pem = getattr(endpoint, "ca_certificate", "")
    if not pem:
        return True
    try:
        return ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise TransferError(f"the ca_certificate is not a valid PEM bundle: {exc}") from None


def _next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("Link", "")
    found = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", link)
    return found.group(1) if found else None


class _Client:
    """What both sides share: manifests, blobs, uploads over an httpx client."""

    client: httpx.Client
    # The actions asked for on HEADs: a destination asks pull,push, so that one token per
    # repository serves its probes and its uploads.
    probe_actions: frozenset[str] = PULL

    def close(self) -> None:
        raise NotImplementedError

    def headers_for(self, wanted: Grants | None) -> dict[str, str]:
        raise NotImplementedError

    def send(
        self,
        method: str,
        url: str,
        wanted: Grants | None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        params: dict[str, str] | None = None,
        stream: bool = False,
        retry_unauthorized: bool = True,
    ) -> httpx.Response:
        all_headers = {**self.headers_for(wanted), **(headers or {})}
        request = self.client.build_request(
            method, url, headers=all_headers, content=content, params=params
        )
        try:
            response = self.client.send(request, stream=stream, follow_redirects=method == "GET")
        except httpx.HTTPError as exc:
            where = request.url.copy_with(query=None)
            reason = str(exc) or type(exc).__name__
            raise TransferError(f"{method} {where}: unreachable ({reason})") from exc
        replayable = retry_unauthorized and (content is None or isinstance(content, bytes))
        if response.status_code == 401 and replayable and self.on_unauthorized(response, wanted):
            response.close()
            # once: a fresh token that is refused again means the account may not do this
            return self.send(
                method,
                url,
                wanted,
                headers=headers,
                content=content,
                params=params,
                stream=stream,
                retry_unauthorized=False,
            )
        return response

    def on_unauthorized(self, response: httpx.Response, wanted: Grants | None) -> bool:
        return False

    @staticmethod
    def _expect(response: httpx.Response, *codes: int, what: str) -> httpx.Response:
        if response.status_code not in codes:
            text = ""
            with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
                text = response.read()[:300].decode(errors="replace")
            response.close()
            status = response.status_code
            raise TransferError(f"{what}: {_refusal(status, text)} {text}".rstrip(), status)
        return response

    # -- manifests --------------------------------------------------------------------
    def manifest(self, repository: str, reference: str) -> tuple[bytes, str] | None:
        response = self.send(
            "GET",
            f"/v2/{repository}/manifests/{reference}",
            grants(repository, PULL),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        if response.status_code == 404:
            return None
        self._expect(response, 200, what=f"GET manifest {repository}:{reference}")
        body = response.content
        if reference.startswith("sha256:") and digest_of(body) != reference:
            raise TransferError(f"manifest {repository}@{reference} does not match its digest")
        return body, response.headers.get("Content-Type", "").split(";")[0]

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        response = self.send(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            grants(repository, self.probe_actions),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        if response.status_code == 404:
            return None
        self._expect(response, 200, what=f"HEAD manifest {repository}:{reference}")
        return response.headers.get("Docker-Content-Digest")

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> None:
        response = self.send(
            "PUT",
            f"/v2/{repository}/manifests/{reference}",
            grants(repository, PUSH),
            headers={"Content-Type": media_type},
            content=body,
        )
        self._expect(response, 201, what=f"PUT manifest {repository}:{reference}")

    def delete_manifest(self, repository: str, digest: str) -> bool:
        response = self.send(
            "DELETE", f"/v2/{repository}/manifests/{digest}", grants(repository, DELETE)
        )
        if response.status_code == 404:
            return False
        self._expect(response, 202, 200, what=f"DELETE manifest {repository}@{digest}")
        return True

    def tags(self, repository: str) -> list[str]:
        found: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list"
        while url:
            response = self.send("GET", url, grants(repository, PULL), params={"n": "1000"})
            if response.status_code == 404:
                return found
            self._expect(response, 200, what=f"GET tags of {repository}")
            found += response.json().get("tags") or []
            url = _next_link(response)
        return found

    def tag_digests(self, repository: str) -> dict[str, str]:
        """tag -> digest, one HEAD per tag (what the distribution API offers)."""
        found = {}
        for tag in self.tags(repository):
            digest = self.manifest_digest(repository, tag)
            if digest:
                found[tag] = digest
        return found

    def inventory(self, repository: str) -> Inventory:
        tags = self.tag_digests(repository)

        def probe(digest: str) -> bool:
            return self.manifest_digest(repository, digest) is not None

        return Inventory(tags, set(tags.values()), probe)

    def referrers(self, repository: str, digest: str) -> list[str]:
        """Digests of the artifacts whose subject is `digest` (OCI 1.1 referrers API);
        none where the registry does not offer the API (distribution 2.8 answers 404)."""
        response = self.send(
            "GET",
            f"/v2/{repository}/referrers/{digest}",
            grants(repository, PULL),
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
        if response.status_code in (400, 404, 405):
            response.close()
            return []
        self._expect(response, 200, what=f"GET referrers of {repository}@{digest}")
        try:
            return [m["digest"] for m in response.json().get("manifests") or []]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []

    def delete_tag(self, repository: str, tag: str) -> bool:
        """Delete one tag, not its artifact (False when it was not there)."""
        raise TransferError("the tag deletion isn't supported by a docker-registry destination")

    # -- blobs ------------------------------------------------------------------------
    def has_blob(self, repository: str, digest: str) -> bool:
        wanted = grants(repository, self.probe_actions)
        response = self.send("HEAD", f"/v2/{repository}/blobs/{digest}", wanted)
        if response.status_code == 404:
            return False
        self._expect(response, 200, what=f"HEAD blob {repository}@{digest}")
        return True

    @contextlib.contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[httpx.Response]:
        response = self.send(
            "GET", f"/v2/{repository}/blobs/{digest}", grants(repository, PULL), stream=True
        )
        try:
            self._expect(response, 200, what=f"GET blob {repository}@{digest}")
            yield response
        finally:
            response.close()

    def mount(self, repository: str, digest: str, source: str) -> str | None:
        """Mount from `source`; None when mounted, else the Location of the upload that
        the registry started instead."""
        response = self.send(
            "POST",
            f"/v2/{repository}/blobs/uploads/",
            grants(repository, PUSH, (source, PULL)),
            params={"mount": digest, "from": source},
        )
        self._expect(response, 201, 202, what=f"mount {digest} into {repository}")
        return None if response.status_code == 201 else response.headers["Location"]

    def start_upload(self, repository: str) -> str:
        response = self.send("POST", f"/v2/{repository}/blobs/uploads/", grants(repository, PUSH))
        self._expect(response, 202, what=f"start upload to {repository}")
        return response.headers["Location"]

    def upload(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Iterable[bytes],
        *,
        location: str | None = None,
        chunk_size: int = 0,
    ) -> None:
        """Upload a blob from an iterator of chunks: one streamed PUT, or with chunk_size
        PATCH requests of that size and a closing PUT."""
        wanted = grants(repository, PUSH)
        location = location or self.start_upload(repository)
        if chunk_size:
            offset, buffer = 0, bytearray()

            def patch(data: bytes) -> None:
                nonlocal location, offset
                response = self.send(
                    "PATCH",
                    location,  # type: ignore[arg-type]  # set above (or start_upload)
                    wanted,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(data) - 1}",
                    },
                    content=data,
                )
                self._expect(response, 202, what=f"PATCH upload of {digest}")
                location = response.headers.get("Location", location)
                offset += len(data)

            for chunk in chunks:
                buffer += chunk
                while len(buffer) >= chunk_size:
                    patch(bytes(buffer[:chunk_size]))
                    del buffer[:chunk_size]
            if buffer:
                patch(bytes(buffer))
            body: bytes | Iterable[bytes] = b""
            headers = {"Content-Length": "0"}
        else:
            body = chunks
            headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
        url = httpx.URL(location)
        response = self.send(
            "PUT",
            str(url.copy_merge_params({"digest": digest})),
            wanted,
            headers=headers,
            content=body,
        )
        self._expect(response, 201, what=f"PUT blob {digest} to {repository}")

    def subject_of(self, repository: str, digest: str) -> str | None:
        """The subject digest when `digest` is an accessory (known on the local side)."""
        return None

    def locate(self, digest: str) -> str | None:
        """A repository of this registry known to hold the blob (for a mount)."""
        return None

    def ensure_namespace(self, namespace: str) -> bool:
        """Make sure the destination project exists (a no-op where there are none); True
        when it was created just now (so it holds nothing yet)."""
        return False

    def repositories_in(self, namespace: str) -> set[str] | None:
        """The repositories of a project, None when the registry cannot say cheaply."""
        return None


class RemoteRegistry(_Client):
    def __init__(self, endpoint: Any, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self.credentials = (
            (endpoint.access_key, endpoint.access_secret) if endpoint.access_key else None
        )
        self.client = httpx.Client(
            base_url=endpoint.url,
            verify=verification(endpoint),
            timeout=httpx.Timeout(300.0, connect=10.0),
            limits=httpx.Limits(max_keepalive_connections=16, max_connections=32),
            transport=transport,
        )
        self._tokens: dict[tuple[str, ...], str] = {}
        self._basic = False
        self._realm: tuple[str, str] | None = None  # (realm, service) of the last challenge
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def headers_for(self, wanted: Grants | None) -> dict[str, str]:
        key = tuple(_scopes(wanted or ()))
        token = self._tokens.get(key)
        if token is None and key and self._realm:
            # the realm is known from an earlier challenge: no 401 round trip per scope
            token = self._fetch_token(*self._realm, key)
        if token:
            return {"Authorization": f"Bearer {token}"}
        if self._basic and self.credentials:
            user, password = self.credentials
            raw = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def on_unauthorized(self, response: httpx.Response, wanted: Grants | None) -> bool:
        key = tuple(_scopes(wanted or ()))
        challenge = response.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if self._basic or not self.credentials:
                return False
            self._basic = True
            return True
        if scheme != "bearer":
            return False
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return False
        self._realm = (realm, params.get("service", ""))
        previous = self._tokens.get(key)
        scopes = key or ((params["scope"],) if "scope" in params else ())
        token = self._fetch_token(realm, params.get("service", ""), scopes, key)
        return bool(token) and token != previous

    def _fetch_token(
        self, realm: str, service: str, scopes: tuple[str, ...], key: tuple[str, ...] | None = None
    ) -> str:
        query: list[tuple[str, Any]] = [("service", service)] + [("scope", s) for s in scopes]
        try:
            answer = self.client.get(
                realm, params=query, auth=self.credentials or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.HTTPError as exc:
            raise TransferError(f"token service {realm}: unreachable ({exc})") from exc
        if answer.status_code != 200:
            status = answer.status_code
            raise TransferError(f"token service {realm}: {_refusal(status, '')}", status)
        body = answer.json()
        token = body.get("token") or body.get("access_token") or ""
        with self._lock:
            self._tokens[scopes if key is None else key] = token
        return token

    def ping(self) -> None:
        response = self.send("GET", "/v2/", None)
        self._expect(response, 200, what="GET /v2/")

    def _api(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            response = self.client.get(path, params=params, auth=self.credentials)
        except httpx.HTTPError as exc:
            raise TransferError(f"GET {self.endpoint.url}{path}: unreachable ({exc})") from exc
        return self._expect(response, 200, what=f"GET {path}")

    def repositories(self) -> list[str]:
        if self.endpoint.type == "harbor":
            found, page = [], 1
            while True:
                items = self._api(
                    "/api/v2.0/repositories", {"page": str(page), "page_size": "100"}
                ).json()
                found += [item["name"] for item in items]
                if len(items) < 100:
                    return found
                page += 1
        found = []
        url: str | None = "/v2/_catalog"
        catalog: Grants = ()
        while url:
            response = self.send("GET", url, catalog, params={"n": "1000"})
            self._expect(response, 200, what="GET /v2/_catalog")
            found += response.json().get("repositories") or []
            url = _next_link(response)
        return found

    def _harbor_artifacts(self, repository: str) -> Iterator[dict[str, Any]]:
        """The artifacts API of a Harbor: top-level artifacts with tags, labels and
        accessories, 100 a page."""
        project, _, rest = repository.partition("/")
        path = f"/api/v2.0/projects/{project}/repositories/{quote(quote(rest, safe=''), safe='')}"
        page = 1
        while True:
            params = {"page": str(page), "page_size": "100", "with_tag": "true"}
            params |= {"with_label": "true", "with_accessory": "true"}
            try:
                items = self._api(f"{path}/artifacts", params).json()
            except TransferError as exc:
                if exc.status == 404:
                    return  # no such repository (yet)
                raise
            yield from items
            if len(items) < 100:
                return
            page += 1

    def artifacts(self, repository: str) -> list[SourceArtifact]:
        """Top-level artifacts with their tags (and labels, from a Harbor's API)."""
        if self.endpoint.type != "harbor":
            by_digest: dict[str, list[str]] = {}
            for tag, digest in self.tag_digests(repository).items():
                by_digest.setdefault(digest, []).append(tag)
            return [SourceArtifact(d, tuple(sorted(t))) for d, t in by_digest.items()]
        found = []
        for item in self._harbor_artifacts(repository):
            tags = tuple(sorted(t["name"] for t in item.get("tags") or []))
            labels = frozenset(label["name"] for label in item.get("labels") or [])
            accessories = tuple(a["digest"] for a in item.get("accessories") or [])
            found.append(SourceArtifact(item["digest"], tags, labels, accessories))
        return found

    def inventory(self, repository: str) -> Inventory:
        if self.endpoint.type != "harbor":
            return super().inventory(repository)
        tags: dict[str, str] = {}
        digests: set[str] = set()
        for item in self._harbor_artifacts(repository):
            digests.add(item["digest"])
            digests.update(a["digest"] for a in item.get("accessories") or [])
            tags.update((t["name"], item["digest"]) for t in item.get("tags") or [])
        return Inventory(tags, digests)

    def delete_tag(self, repository: str, tag: str) -> bool:
        if self.endpoint.type != "harbor":
            return super().delete_tag(repository, tag)
        project, _, rest = repository.partition("/")
        name = quote(quote(rest, safe=""), safe="")
        path = f"/api/v2.0/projects/{project}/repositories/{name}/artifacts/{tag}/tags/{tag}"
        try:
            response = self.client.delete(path, auth=self.credentials or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise TransferError(f"DELETE tag {repository}:{tag}: unreachable ({exc})") from exc
        if response.status_code == 404:
            return False
        self._expect(response, 200, what=f"DELETE tag {repository}:{tag}")
        return True

    def repositories_in(self, namespace: str) -> set[str] | None:
        if self.endpoint.type != "harbor":
            return None
        found: set[str] = set()
        page = 1
        while True:
            try:
                params = {"page": str(page), "page_size": "100"}
                items = self._api(f"/api/v2.0/projects/{namespace}/repositories", params).json()
            except TransferError as exc:
                return set() if exc.status == 404 else None  # else: ask per repository
            found.update(item["name"] for item in items)
            if len(items) < 100:
                return found
            page += 1

    def ensure_namespace(self, namespace: str) -> bool:
        if self.endpoint.type != "harbor":
            return False
        try:
            response = self.client.post(
                "/api/v2.0/projects",
                json={"project_name": namespace, "metadata": {"public": "false"}},
                auth=self.credentials or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise TransferError(f"create project {namespace}: unreachable ({exc})") from exc
        self._expect(response, 201, 409, what=f"create project {namespace}")
        return response.status_code == 201
