"""The distribution v2 API over httpx, as replication's adapters use it: manifests,
blobs and uploads, with the authentication left to the subclass (`headers_for`,
`on_unauthorized`).

Blob bytes are streamed: `open_blob` yields the source response, `upload` sends an
iterator of chunks (one PUT with Content-Length, or PATCH chunks for copy_by_chunk).
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from registry.manifests import MANIFEST_ACCEPT, digest_of
from replication.adapters.base import (
    DELETE,
    PULL,
    PUSH,
    Grants,
    Inventory,
    TransferError,
    grants,
)


def scope_strings(wanted: Grants) -> list[str]:
    return [f"repository:{repo}:{','.join(sorted(acts))}" for repo, acts in wanted]


def refusal(status: int, body: str) -> str:
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


def next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("Link", "")
    found = re.search(r"<([^>]+)>;\s*rel=\"?next\"?", link)
    return found.group(1) if found else None


class V2Client:
    """What every adapter shares: manifests, blobs, uploads over an httpx client."""

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
            raise TransferError(f"{what}: {refusal(status, text)} {text}".rstrip(), status)
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
            url = next_link(response)
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
