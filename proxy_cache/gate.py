"""The /v2 answers of proxy-cache projects, registered with the gate
(registry.pull_through): manifests and blob misses. Everything else (auth, tags/list,
catalog, deletes) is the gate's own."""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

from harbor_py.core.actor import Actor
from harbor_py.core.errors import DomainError
from harbor_py.core.http import client_address, status_of
from harbor_py.core.oci import API_VERSION_HEADER, oci_error
from harbor_py.core.oci import blob_head as blob_head_answer
from projects.models import Project
from proxy_cache import blobs, manifests
from registry import pull_policy, pulls


def _error(exc: DomainError, *, manifest: bool) -> HttpResponse:
    status = status_of(exc)
    if status == 404:
        code = "MANIFEST_UNKNOWN" if manifest else "BLOB_UNKNOWN"
    elif status == 503:
        code = "UNAVAILABLE"
    else:
        code = exc.code
    return oci_error(status, code, exc.message)


_OPEN_RANGE = re.compile(r"^bytes=(\d+)-$")


def _range_start(request: HttpRequest) -> int:
    """The first byte of `Range: bytes=<n>-` (how clients resume a broken blob transfer);
    0 for no range or any other form (answered with the whole blob, as HTTP allows)."""
    found = _OPEN_RANGE.match(request.headers.get("Range", ""))
    return int(found.group(1)) if found else 0


class Handler:
    def manifest(
        self, request: HttpRequest, project: Project, name: str, reference: str, subject: str
    ) -> HttpResponse:
        try:
            served = manifests.get(project, name, reference)
        except DomainError as exc:
            return _error(exc, manifest=True)
        head = request.method == "HEAD"
        actor = Actor(username=subject or "anonymous", client_address=client_address(request))
        if served.artifact is not None and served.repository is not None:
            if not head:
                asked = pull_policy.PullRequest(
                    repository=served.repository, artifact=served.artifact, subject=subject
                )
                if (message := pull_policy.refusal(asked)) is not None:
                    return oci_error(412, pull_policy.POLICY_VIOLATION, message)
                pulls.record_pull(
                    repository_id=served.repository.pk,
                    artifact_id=served.artifact.pk,
                    tag_id=served.tag.pk if served.tag else None,
                    event=pulls.PullEvent.of(
                        request, served.repository, served.artifact, served.tag
                    ),
                )
            if served.stale_reason:
                manifests.audit_stale(served, actor=actor, project=project)
        response = HttpResponse(b"" if head else served.body, content_type=served.media_type)
        response["Content-Length"] = str(len(served.body))
        response["Docker-Content-Digest"] = served.digest
        response["ETag"] = f'"{served.digest}"'
        if served.stale_reason:
            response["Warning"] = '110 - "served from the proxy cache: upstream unavailable"'
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    def blob(
        self, request: HttpRequest, project: Project, name: str, digest: str
    ) -> HttpResponseBase:
        if request.method == "HEAD":
            try:
                size = blobs.head(project, name, digest)
            except DomainError as exc:
                return _error(exc, manifest=False)
            return blob_head_answer(size, digest)
        try:
            stream = blobs.open_blob(project, name, digest, _range_start(request))
        except DomainError as exc:
            return _error(exc, manifest=False)
        streamed = StreamingHttpResponse(stream.chunks, content_type="application/octet-stream")
        if stream.start and stream.size >= 0:
            streamed.status_code = 206
            streamed["Content-Range"] = f"bytes {stream.start}-{stream.size - 1}/{stream.size}"
            streamed["Content-Length"] = str(stream.size - stream.start)
        elif stream.size >= 0:
            streamed["Content-Length"] = str(stream.size)
        streamed["Docker-Content-Digest"] = digest
        streamed[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return streamed


HANDLER = Handler()
