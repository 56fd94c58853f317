"""The /v2 routes that pass through Django (ARCHITECTURE.md §1): manifests, tags/list,
catalog, referrers and blob HEAD. Each verifies the bearer token, answers from the database
where it can, forwards to distribution where it must, and records what changed."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts import robot_selectors
from accounts.tokens import InvalidToken, TokenClaims
from harbor_gc import guard
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from harbor_py.core.http import client_address, status_of
from harbor_py.core.oci import API_VERSION_HEADER, challenge, oci_error
from harbor_py.core.oci import blob_head as blob_head_answer
from projects.models import Project
from projects.selectors import find_project, standing_for
from registry import (
    blob_sizes,
    deletion,
    image_config,
    pull_policy,
    pull_through,
    pulls,
    push,
    selectors,
    services,
    storage_probe,
    uploads,
    upstream,
)
from registry.access import (
    ACTIONS_BY_METHOD,
    authorize,
    bearer_claims,
    bearer_token,
    explain_denial,
)
from registry.manifests import (
    MANIFEST_ACCEPT,
    OCI_INDEX,
    ManifestInvalid,
    ParsedManifest,
    parse_manifest,
)
from registry.names import is_digest, is_tag, project_of, valid_repository_name

logger = logging.getLogger(__name__)

FORWARDED_REQUEST_HEADERS = ("Host", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For")
PASSED_RESPONSE_HEADERS = (
    "Content-Type",
    "Docker-Content-Digest",
    "Location",
    "ETag",
    "Docker-Upload-UUID",
    "Range",
)
MAX_PAGE = 10_000  # n= beyond this (up to any number of digits) is answered as n=10000
PULL, PUSH, DELETE = frozenset({"pull"}), frozenset({"pull", "push"}), frozenset({"delete"})
View = Callable[..., HttpResponseBase]


def _gate_errors(view: View) -> View:
    """The gate's one mapping of failures to OCI errors: a domain error (over the quota, an
    immutable tag, a size that does not match) with its code and the status the API gives
    it; distribution unreachable or timing out: 503, not a 500 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return oci_error(status_of(exc), exc.code, exc.message)
        except httpx.HTTPError as exc:
            logger.warning("registry storage unavailable for %s: %s", request.path, exc)
            return oci_error(503, "UNAVAILABLE", "the registry storage is unavailable")

    return wrapper


def _forward_headers(request: HttpRequest, **extra: str) -> dict[str, str]:
    headers = {h: request.headers[h] for h in FORWARDED_REQUEST_HEADERS if h in request.headers}
    headers.update(extra)
    return headers


def _relay(upstream_response: httpx.Response, *, head: bool = False) -> HttpResponse:
    body = b"" if head else upstream_response.content
    response = HttpResponse(body, status=upstream_response.status_code)
    for name in PASSED_RESPONSE_HEADERS:
        if name in upstream_response.headers:
            response[name] = upstream_response.headers[name]
    if "Content-Length" in upstream_response.headers:
        response["Content-Length"] = upstream_response.headers["Content-Length"]
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


def _bad_name(name: str) -> HttpResponse | None:
    if not valid_repository_name(name):
        return oci_error(400, "NAME_INVALID", "invalid repository name")
    return None


def _page_params(request: HttpRequest) -> tuple[int | None, str | None] | HttpResponse:
    raw_n = request.GET.get("n")
    limit = None
    if raw_n not in (None, ""):
        if not raw_n.isdigit():
            return oci_error(
                400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested"
            )
        limit = min(int(raw_n), MAX_PAGE)  # fewer than asked, with a Link: as the spec allows
    return limit, request.GET.get("last") or None


def _paged_json(
    request: HttpRequest, key: str, extra: dict[str, str], names: list[str], limit: int | None
) -> JsonResponse:
    response = JsonResponse({**extra, key: names})
    if limit and len(names) == limit:
        query = urlencode({"n": limit, "last": names[-1]})
        response["Link"] = f'<{request.path}?{query}>; rel="next"'
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


@csrf_exempt
def base(request: HttpRequest) -> HttpResponse:
    claims = bearer_claims(request)
    if claims is None:
        return challenge()
    if isinstance(claims, InvalidToken):
        return challenge(error="invalid_token")
    response = JsonResponse({})
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


@csrf_exempt
def catalog(request: HttpRequest) -> HttpResponse:
    claims = bearer_claims(request)
    scope = "registry:catalog:*"
    if claims is None:
        return challenge(scope)
    if isinstance(claims, InvalidToken):
        return challenge(scope, error="invalid_token")
    if not claims.allows("registry", "catalog", "*"):
        return oci_error(401, "UNAUTHORIZED", "catalog access requires a system administrator")
    page = _page_params(request)
    if isinstance(page, HttpResponse):
        return page
    limit, last = page
    return _paged_json(
        request, "repositories", {}, selectors.repository_names(last=last, limit=limit), limit
    )


@csrf_exempt
def tags_list(request: HttpRequest, name: str) -> HttpResponse:
    if (bad := _bad_name(name)) is not None:
        return bad
    claims = authorize(request, name, "pull")
    if isinstance(claims, HttpResponse):
        return claims
    repository = selectors.find_repository(name)
    if repository is None:
        return oci_error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    page = _page_params(request)
    if isinstance(page, HttpResponse):
        return page
    limit, last = page
    names = selectors.tag_names(repository, last=last, limit=limit)
    return _paged_json(request, "tags", {"name": name}, names, limit)


def _bad_reference(method: str, reference: str) -> HttpResponse | None:
    if is_digest(reference) or is_tag(reference):
        return None
    if ":" in reference:
        return oci_error(400, "DIGEST_INVALID", f"invalid digest {reference!r}")
    if method == "PUT":
        return oci_error(400, "MANIFEST_INVALID", f"invalid tag {reference!r}")
    return _manifest_unknown(reference)


@csrf_exempt
@_gate_errors
def manifest(request: HttpRequest, name: str, reference: str) -> HttpResponse:
    if (bad := _bad_name(name)) is not None:
        return bad
    if (bad := _bad_reference(request.method or "", reference)) is not None:
        return bad
    action = ACTIONS_BY_METHOD.get(request.method or "")
    if request.method not in ("GET", "HEAD", "PUT", "DELETE") or action is None:
        return oci_error(405, "UNSUPPORTED", "method not allowed")
    claims = authorize(request, name, action)
    if isinstance(claims, HttpResponse):
        if action == "push" and (refused := _proxy_push_refused(name)) is not None:
            return refused
        return claims
    if request.method == "PUT":
        return _put_manifest(request, name, reference, _actor(request, claims.subject))
    if request.method == "DELETE":
        return _delete_manifest(request, name, reference, _actor(request, claims.subject))
    return _get_manifest(request, name, reference, claims.subject)


def _manifest_unknown(reference: str) -> HttpResponse:
    return oci_error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {reference}")


def _proxy(name: str, repository: object = None) -> tuple[pull_through.Handler, Project] | None:
    """The proxy-cache handler and the project of `name`, when that is a proxy cache."""
    handler = pull_through.handler()
    if handler is None:
        return None
    project = getattr(repository, "project", None) or find_project(project_of(name), is_name=True)
    return (handler, project) if project is not None and project.is_proxy else None


def _may_be_proxy(claims: TokenClaims, name: str) -> bool:
    """Whether `name`'s project may be a proxy cache, as far as the token tells: no project
    that is one grants push (ProjectAccess.registry_actions), and a project is one from its
    creation or never (registry_id). So a pusher's HEADs of new blobs read no project row;
    only a project deleted and re-created as a proxy cache within the token's lifetime
    answers such a HEAD 404 instead of fetching upstream, as its push token lets the client
    upload the blob anyway. `push` itself, not `*`: a system administrator's `*` is granted
    in a proxy cache too."""
    return "push" not in claims.access.get(("repository", name), frozenset())


def _proxy_push_refused(name: str) -> HttpResponse | None:
    """Harbor refuses a push to a proxy-cache project with 403 DENIED."""
    project = find_project(project_of(name), is_name=True)
    if project is None or not project.is_proxy:
        return None
    return oci_error(403, "DENIED", pull_through.PROXY_PUSH_REFUSED.format(project.name))


def _get_manifest(request: HttpRequest, name: str, reference: str, subject: str) -> HttpResponse:
    repository = selectors.find_repository(name)
    if (proxy := _proxy(name, repository)) is not None:
        return proxy[0].manifest(request, proxy[1], name, reference, subject)
    if repository is None:
        return oci_error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    artifact, tag = selectors.resolve(repository, reference)
    if artifact is None:
        return _manifest_unknown(reference)
    head = request.method == "HEAD"
    if not head:  # Harbor's policy middlewares guard the manifest GET only
        asked = pull_policy.PullRequest(repository=repository, artifact=artifact, subject=subject)
        if (message := pull_policy.refusal(asked)) is not None:
            return oci_error(412, pull_policy.POLICY_VIOLATION, message)
    result = upstream.request(
        "HEAD" if head else "GET",
        name,
        f"/v2/{name}/manifests/{artifact.digest}",
        PULL,
        headers=_forward_headers(request, Accept=MANIFEST_ACCEPT),
        client_token=bearer_token(request),
    )
    if result.status_code == 200 and not head:
        pulls.record_pull(
            repository_id=repository.pk,
            artifact_id=artifact.pk,
            tag_id=tag.pk if tag else None,
            event=pulls.PullEvent.of(request, repository, artifact, tag),
        )
    return _relay(result, head=head)


def _actor(request: HttpRequest, subject: str) -> Actor:
    """The caller of a /v2 write: the token's subject (as which robot, when it names one),
    from the client's address."""
    return Actor(
        username=subject,
        client_address=client_address(request),
        robot_id=robot_selectors.robot_id_named(subject),
    )


def _put_manifest(request: HttpRequest, name: str, reference: str, actor: Actor) -> HttpResponse:
    limit = settings.HARBOR["MAX_MANIFEST_BYTES"]
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return oci_error(413, "SIZE_INVALID", f"manifest larger than {limit} bytes")
    body = request.body
    if len(body) > limit:
        return oci_error(413, "SIZE_INVALID", f"manifest larger than {limit} bytes")
    content_type = request.headers.get("Content-Type", "")
    try:
        parsed = parse_manifest(body, content_type)
    except ManifestInvalid as exc:
        return oci_error(400, "MANIFEST_INVALID", str(exc))
    if is_digest(reference) and reference != parsed.digest:
        return oci_error(400, "DIGEST_INVALID", "manifest digest does not match the reference")
    project = find_project(project_of(name), is_name=True)
    if project is None:
        return oci_error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    tag = None if is_digest(reference) else reference
    sizes = blob_sizes.verified_sizes(name, parsed)
    with standing_for(project):
        for _ in range(push.ATTEMPTS):
            try:
                return _record_and_put(request, name, reference, parsed, project, tag, sizes, actor)
            except push.ArtifactGone:
                continue  # a deleter took the artifact between reserve and complete: again
            except push.ProjectGone:
                return oci_error(
                    404, "NAME_UNKNOWN", f"repository name not known to registry: {name}"
                )
    return oci_error(503, "UNAVAILABLE", "the artifact was deleted while pushed; push again")


def _record_and_put(
    request: HttpRequest,
    name: str,
    reference: str,
    parsed: ParsedManifest,
    project: Project,
    tag: str | None,
    sizes: dict[str, int],
    actor: Actor,
) -> HttpResponse:
    """One round of reserve / PUT / complete (registry.push). Raises push.ArtifactGone when
    a deleter took the reserved artifact (nothing was PUT then)."""
    body = request.body
    config = image_config.stored_config(parsed)
    try:
        reservation = push.reserve(
            project=project,
            repository_name=name,
            parsed=parsed,
            tag=tag,
            image_config=config if isinstance(config, image_config.ImageConfig) else None,
            config_read=config is not storage_probe.UNKNOWN,
            sizes=sizes,
        )
    except push.BlobsBeingDeleted as exc:
        return oci_error(404, "BLOB_UNKNOWN", f"blob unknown to registry: {exc}; upload it again")
    try:
        with push.pinned(reservation):
            result = upstream.request(
                "PUT",
                name,
                f"/v2/{name}/manifests/{reference}",
                PUSH,
                headers=_forward_headers(request, **{"Content-Type": parsed.media_type}),
                client_token=bearer_token(request),
                content=body,
            )
            if result.status_code == 201:
                push.complete(
                    reservation=reservation,
                    tag=tag,
                    actor=actor,
                )
    except httpx.HTTPError:
        push.release(reservation)
        raise
    if result.status_code != 201:
        push.release(reservation)
        return _relay(result)
    response = _relay(result)
    if parsed.subject:
        response["OCI-Subject"] = parsed.subject.digest
    return response


def _delete_manifest(request: HttpRequest, name: str, reference: str, actor: Actor) -> HttpResponse:
    repository = selectors.find_repository(name)
    if repository is None:
        return oci_error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    if is_tag(reference) and not is_digest(reference):
        tag = selectors.find_tag(repository, reference)
        if tag is None:
            return _manifest_unknown(reference)
        try:
            services.delete_tag(tag=tag, actor=actor)
        except DomainError as exc:  # an immutable tag, or moved by a push meanwhile
            if exc.code == Code.NOT_FOUND:
                return _manifest_unknown(reference)
            raise
        return HttpResponse(status=202)
    artifact, _ = selectors.resolve(repository, reference)
    if artifact is None:
        return _manifest_unknown(reference)
    try:
        deleted = deletion.delete_artifact(artifact=artifact, actor=actor, deep=False)
    except deletion.ReferencedByIndex:
        return oci_error(
            403, "DENIED", "the manifest is referenced by an index; delete the index first"
        )
    return HttpResponse(status=202) if deleted else _manifest_unknown(reference)


@csrf_exempt
def referrers(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """OCI 1.1 referrers, answered from the database."""
    if (bad := _bad_name(name)) is not None:
        return bad
    if request.method not in ("GET", "HEAD"):
        return oci_error(405, "UNSUPPORTED", "method not allowed")
    if not is_digest(digest):
        return oci_error(400, "DIGEST_INVALID", f"invalid digest {digest!r}")
    claims = authorize(request, name, "pull")
    if isinstance(claims, HttpResponse):
        return claims
    repository = selectors.find_repository(name)
    if repository is None:
        return oci_error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    artifact_type = request.GET.get("artifactType") or None
    index = selectors.referrers_index(repository, digest, artifact_type)
    response = HttpResponse(json.dumps(index), content_type=OCI_INDEX)
    if artifact_type:
        response["OCI-Filters-Applied"] = "artifactType"
    response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
    return response


@csrf_exempt
@_gate_errors
def blob_head(request: HttpRequest, name: str, digest: str) -> HttpResponseBase:
    if (bad := _bad_name(name)) is not None:
        return bad
    if not is_digest(digest):  # nginx sends well-formed digests to distribution
        return oci_error(400, "DIGEST_INVALID", f"invalid digest {digest!r}")
    if request.method == "DELETE":
        return _delete_blob(request, name, digest)
    if request.method == "GET" and request.headers.get("X-Harbor-Blob-Miss"):
        return _blob_miss(request, name, digest)
    if request.method == "GET" and request.headers.get("X-Harbor-Proxy-Stored"):
        # nginx's notice after a proxy-cache fetch it was handed (deploy/nginx.conf): no
        # client token (it may have expired meanwhile); the flight's token is the proof
        if (proxy := _proxy(name)) is not None:
            return proxy[0].stored(request, proxy[1], name, digest)
        return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", detail=digest)
    if request.method != "HEAD":
        return registry_denied(request, name)
    claims = authorize(request, name, "pull")
    if isinstance(claims, HttpResponse):
        return claims
    size = storage_probe.linked_blob_size(name, digest)
    if size is storage_probe.UNKNOWN:  # storage we cannot read directly: ask distribution
        result = upstream.request(
            "HEAD",
            name,
            f"/v2/{name}/blobs/{digest}",
            PULL,
            headers=_forward_headers(request),
            client_token=bearer_token(request),
        )
        if result.status_code != 200:
            return _relay(result, head=True)
        size = int(result.headers.get("Content-Length") or 0)
    if size is None and _may_be_proxy(claims, name) and (proxy := _proxy(name)) is not None:
        return proxy[0].blob(request, proxy[1], name, digest)
    # Absent, or being deleted by GC: 404, and the client uploads it (again).
    stored = size if isinstance(size, int) and guard.touch_one(digest) else None
    return blob_head_answer(stored, digest)


def _blob_miss(request: HttpRequest, name: str, digest: str) -> HttpResponseBase:
    """A blob GET that distribution answered 404 (nginx's fallback, deploy/nginx.conf): a
    proxy-cache project fetches it from its upstream; any other says what distribution
    said. The header is not trusted: the handler looks at the storage first."""
    claims = authorize(request, name, "pull")
    if isinstance(claims, HttpResponse):
        return claims
    if (proxy := _proxy(name)) is not None:
        return proxy[0].blob(request, proxy[1], name, digest)
    return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", detail=digest)


def _delete_blob(request: HttpRequest, name: str, digest: str) -> HttpResponse:
    """Blob DELETE passes through Django (nginx) so that read-only mode refuses it even
    with a token issued before the switch (the middleware, harbor_py.ops.readonly)."""
    claims = authorize(request, name, "delete")
    if isinstance(claims, HttpResponse):
        return claims
    path = f"/v2/{name}/blobs/{digest}"
    result = upstream.request(
        "DELETE",
        name,
        path,
        DELETE,
        headers=_forward_headers(request),
        client_token=bearer_token(request),
    )
    return _relay(result)


@csrf_exempt
@_gate_errors
def blob_upload(request: HttpRequest, name: str, rest: str = "") -> HttpResponse:
    """Upload routes nginx sends here: the Content-Range check (an internal subrequest),
    upload status, and distribution's refusals (deploy/nginx.conf)."""
    if request.headers.get("X-Harbor-Upload-Check"):
        return uploads.upload_check(request, name, rest)
    if (bad := _bad_name(name)) is not None:
        return bad
    if request.method in ("GET", "HEAD"):
        if not rest:
            return oci_error(405, "UNSUPPORTED", "GET of the upload collection is not supported")
        status = uploads.upload_status(request, name, rest)
        if status is not None:
            return status
        query = f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""
        result = upstream.request(
            request.method,
            name,
            f"/v2/{name}/blobs/uploads/{rest}{query}",
            PULL,
            headers=_forward_headers(request),
            client_token=bearer_token(request),
        )
        return _relay(result, head=request.method == "HEAD")
    return registry_denied(request, name, rest)


@csrf_exempt
def registry_denied(request: HttpRequest, name: str, rest: str = "") -> HttpResponse:
    """Reached only when nginx intercepts a 401 from distribution on a direct route: say
    why, as the gate would (missing project, no access, or a token to fetch)."""
    action = ACTIONS_BY_METHOD.get(request.method or "", "pull")
    if action == "push" and (refused := _proxy_push_refused(name)) is not None:
        return refused
    claims = bearer_claims(request)
    if claims is None or isinstance(claims, InvalidToken):
        return authorize(request, name, action)  # type: ignore[return-value]  # no valid token: authorize answers with a refusal
    if claims.allows("repository", name, action):
        return challenge(f"repository:{name}:{action}", error="insufficient_scope")
    return explain_denial(claims, name, action, bearer_token(request))
