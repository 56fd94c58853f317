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
from proxy_cache import blobs, manifests, services, upstreams
from registry import pull_policy, pulls, upstream

_PULL = frozenset({"pull"})


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


class _Answer(HttpResponse):
    """A manifest answer whose job-log lines are written once the client has it: the WSGI
    server closes a response after its last byte (or once the client went away).
    granian's wrapper closes other responses before it sends them
    (harbor_py.ops.access_log.AccessLogged): `close_after_sending` says this one waits."""

    lines: tuple[services.Work, ...] = ()

    @property
    def close_after_sending(self) -> bool:
        return bool(self.lines)  # a warm hit logs nothing: sent whole, as any answer

    def close(self) -> None:
        try:
            services.write(self.lines)  # never raises: the client has its answer
        finally:
            super().close()


class Handler:
    def manifest(
        self, request: HttpRequest, project: Project, name: str, reference: str, subject: str
    ) -> HttpResponse:
        lines: list[services.Work] = []
        try:
            with services.held() as lines:
                response = self._manifest(request, project, name, reference, subject)
        except BaseException:
            services.write(lines)
            raise
        if isinstance(response, _Answer):
            response.lines = tuple(lines)
        else:
            services.write(lines)
        return response

    def _manifest(
        self, request: HttpRequest, project: Project, name: str, reference: str, subject: str
    ) -> HttpResponse:
        name = upstreams.local_name(project.registry_id, name)  # type: ignore[arg-type]  # a proxy project
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
        response = _Answer(b"" if head else served.body, content_type=served.media_type)
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
        asked, name = name, upstreams.local_name(project.registry_id, name)  # type: ignore[arg-type]  # a proxy project
        # `<project>/nginx` of Docker Hub, kept as `<project>/library/nginx`: a blob cached
        # there is served by distribution, as any cached blob is
        if (
            asked != name
            and request.method == "GET"
            and not request.headers.get("Range")
            and blobs.cached_size(name, digest) is not None
        ):
            return _from_storage(name, digest)
        if request.method == "HEAD":
            try:
                size = blobs.head(project, name, digest)
            except DomainError as exc:
                return _error(exc, manifest=False)
            return blob_head_answer(size, digest)
        start = _range_start(request)
        try:
            stream = blobs.open_blob(
                project,
                name,
                digest,
                start,
                hand_over=not request.headers.get("Range"),
                # nginx's fetch came back (deploy/nginx.conf, @harbor_proxy_fetch_failed)
                failed_flight=request.headers.get("X-Harbor-Proxy-Failed", ""),
            )
        except DomainError as exc:
            return _error(exc, manifest=False)
        if isinstance(stream, blobs.Handover):
            return _handed_over(stream)
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

    def stored(
        self, request: HttpRequest, project: Project, name: str, digest: str
    ) -> HttpResponseBase:
        """nginx's notice that a fetch it was handed ended (deploy/nginx.conf)."""
        flight = request.headers.get("X-Harbor-Proxy-Stored", "")
        # the name the client asked for (nginx sends the original URI): stored as the gate
        # stores it
        name = upstreams.local_name(project.registry_id, name)  # type: ignore[arg-type]  # a proxy project
        landed = blobs.stored(project, name, digest, flight)
        return HttpResponse(status=204 if landed else 202)


def _from_storage(name: str, digest: str) -> HttpResponse:
    """distribution serves the blob of `name` (deploy/nginx.conf, /_harbor_local_blob)."""
    response = HttpResponse(status=200)
    response["X-Accel-Redirect"] = "/_harbor_local_blob"
    response["X-Harbor-Local-Path"] = f"/v2/{name}/blobs/{digest}"
    response["X-Harbor-Local-Auth"] = f"Bearer {upstream.internal_token(name, _PULL)}"
    return response


def _handed_over(handover: blobs.Handover) -> HttpResponse:
    """nginx fetches the blob itself (deploy/nginx.conf, /_harbor_proxy_fetch); these
    headers are for it alone: nginx never passes them on to the client."""
    response = HttpResponse(status=200)
    response["X-Accel-Redirect"] = handover.location
    response["X-Harbor-Upstream-Url"] = handover.url
    response["X-Harbor-Upstream-Host"] = handover.host
    response["X-Harbor-Upstream-Name"] = handover.server_name
    response["X-Harbor-Upstream-Auth"] = handover.authorization
    response["X-Harbor-Store"] = handover.store
    response["X-Harbor-Flight"] = handover.flight
    return response


HANDLER = Handler()
