"""Manifests of proxy-cache projects: ask the upstream cheaply, serve the cache when it
cannot answer, and record what is served at once (docs/proxy-cache.md).

    by digest   the cached copy when there is one (a digest never changes), else one GET
                upstream (single flight), verified against the digest
    by tag      one HEAD upstream (Docker Hub does not count it against the pull limit):
                the cached copy when the digest matches; a GET by digest when it moved;
                the cached copy when the upstream is unreachable, times out, answers 401,
                403, 429 or 5xx, or no longer has the tag (the audit log says so)

A fetched manifest is recorded as a push is (registry.push: repository, artifact, tag,
blob references, GC guard, quota, audit, events) without distribution's PUT, which would
refuse it until its blobs are cached; its bytes are kept in CachedManifest and put into
distribution later (`materialize`)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
from django.db import IntegrityError, transaction
from django.db.models import F

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects.models import Project
from proxy_cache import flights, services, upstreams
from proxy_cache.models import CachedManifest
from registry import image_config, push, selectors, storage_probe, upstream
from registry.manifests import ManifestInvalid, ParsedManifest, parse_manifest
from registry.models import Artifact, Repository, Tag
from registry.names import is_digest
from replication.adapters.base import TransferError

logger = logging.getLogger(__name__)

PROXY = Actor.system("harbor-proxy-cache")  # who records what a pull brought in
_PUSH = frozenset({"pull", "push"})
TAG_MEMO_SECONDS = 5.0  # for the pulls that waited on a HEAD


class NotCached(DomainError):
    """Nothing cached to serve and no answer from the upstream."""


@dataclass(frozen=True)
class Served:
    body: bytes
    media_type: str
    digest: str
    repository: Repository | None  # None: served, not recorded (quota, immutable tag)
    artifact: Artifact | None
    tag: Tag | None
    stale_reason: str = ""  # set when the cache answered because the upstream could not


def _local(name: str, reference: str) -> tuple[Repository | None, Artifact | None, Tag | None]:
    repository = selectors.find_repository(name)
    if repository is None:
        return None, None, None
    artifact, tag = selectors.resolve(repository, reference)
    return repository, artifact, tag


def _cached_body(name: str, artifact: Artifact) -> tuple[bytes, str] | None:
    row = (
        CachedManifest.objects.filter(repository=name, digest=artifact.digest)
        .values_list("body", "media_type")
        .first()
    )
    if row is not None:
        return bytes(row[0]), row[1]
    try:  # recorded some other way (a replication into the project): distribution has it
        return upstream.fetch_manifest(name, artifact.digest), artifact.manifest_media_type
    except (httpx.HTTPError, ValueError):
        return None


def _served_local(
    name: str,
    repository: Repository,
    artifact: Artifact,
    tag: Tag | None,
    stale_reason: str = "",
) -> Served | None:
    found = _cached_body(name, artifact)
    if found is None:
        return None
    body, media_type = found
    return Served(body, media_type, artifact.digest, repository, artifact, tag, stale_reason)


def get(project: Project, name: str, reference: str) -> Served:
    """The manifest to answer a pull with; raises NotCached (or another DomainError)."""
    repository, artifact, tag = _local(name, reference)
    local = None
    if repository is not None and artifact is not None:
        local = _served_local(name, repository, artifact, tag)
    if local is not None and is_digest(reference):
        return local  # a digest names the same bytes forever: no upstream call
    source = upstreams.of_project(project.registry_id)  # type: ignore[arg-type]  # a proxy project
    remote = source.remote_name(name)

    def stale(reason: str, *, missing: bool = False) -> Served:
        if local is not None:
            return replace(local, stale_reason=reason)
        if missing:
            raise NotCached(Code.NOT_FOUND, f"manifest unknown: {reference} ({reason})")
        raise NotCached(
            Code.SERVICE_UNAVAILABLE,
            f"{name}:{reference} is not cached and the upstream registry "
            f"{source.endpoint_name} cannot serve it: {reason}",
        )

    if upstreams.is_open(source.endpoint_id):
        return stale("the upstream registry is marked unavailable after recent failures")
    if local is None and not is_digest(reference):
        # nothing cached for the tag: one GET by tag (its digest is the body's), no HEAD
        return _fetch(project, source, name, reference, stale, tag=reference)
    digest = reference
    if not is_digest(reference):
        try:
            digest = _tag_digest(source, remote, reference)
        except TransferError as exc:
            if not upstreams.unavailable(exc):
                return stale(f"the upstream refused the tag: {exc}", missing=True)
            upstreams.failed(source.endpoint_id, str(exc))
            return stale(f"the upstream registry failed: {exc}")
        upstreams.succeeded(source.endpoint_id)
        upstreams.share_auth(source)
        if not digest:
            return stale(f"the tag {reference} is gone from {remote} upstream", missing=True)
        if local is not None and local.digest == digest:
            return local
    tag_name = None if digest == reference else reference
    return _fetch(project, source, name, digest, stale, tag=tag_name)


def _fetch(
    project: Project,
    source: upstreams.Upstream,
    name: str,
    reference: str,
    stale: Callable[..., Served],
    *,
    tag: str | None,
) -> Served:
    """One GET upstream of `reference` (a tag or a digest; single flight), recorded with
    `tag`, the tag the client asked for (None: by digest)."""
    remote = source.remote_name(name)
    separator = "@" if is_digest(reference) else ":"
    with flights.leading(f"m:{source.endpoint_id}:{remote}{separator}{reference}"):
        # the flight before this one may have brought it in
        repository, artifact, tag_row = _local(name, tag or reference)
        fetched = artifact is not None and (artifact.digest == reference or tag == reference)
        if fetched and repository is not None and artifact is not None:
            done = _served_local(name, repository, artifact, tag_row)
            if done is not None:
                return done
        try:
            found = source.adapter.manifest(remote, reference)
        except TransferError as exc:
            unavailable = upstreams.unavailable(exc)
            if unavailable:
                upstreams.failed(source.endpoint_id, str(exc))
            # a tag refused otherwise (as its HEAD was) is unknown
            missing = exc.status == 404 or not (unavailable or is_digest(reference))
            return stale(f"the upstream registry failed: {exc}", missing=missing)
        if found is None:
            return stale(f"{remote}{separator}{reference} is gone upstream", missing=True)
        upstreams.succeeded(source.endpoint_id)
        upstreams.share_auth(source)
        served = _record(project, name, *found, tag)
        what = f"{name}:{tag}" if tag else name
        services.log(
            project_id=project.pk,
            message=f"fetched the manifest of {what} ({served.digest}) from "
            f"{source.endpoint_name}"
            + ("" if served.artifact is not None else ": served, not kept (see the warning)"),
        )
        return served


def _tag_digest(source: upstreams.Upstream, remote: str, tag: str) -> str:
    """The digest the upstream's tag names now ("" when it has no such tag): one HEAD per
    pull, shared by the pulls of the same tag that arrive while it is asked (single
    flight: they wait for it and take its answer)."""
    key = f"t:{source.endpoint_id}:{remote}:{tag}"
    lock = flights.try_lead(key)
    if lock is None:
        flights.wait_for(key, 30.0)
        if (known := flights.remembered(key)) is not None:
            return known
        lock = flights.try_lead(key)  # the leader failed: ask ourselves
    try:
        digest = source.adapter.manifest_digest(remote, tag) or ""
    except TransferError:
        flights.forget(key)  # the waiters ask for themselves
        raise
    else:
        flights.remember(key, digest, TAG_MEMO_SECONDS)
        return digest
    finally:
        if lock is not None:
            flights.release(lock)


def _record(project: Project, name: str, body: bytes, media_type: str, tag: str | None) -> Served:
    try:
        parsed = parse_manifest(body, media_type)
    except ManifestInvalid as exc:
        raise NotCached(Code.NOT_FOUND, f"the upstream's manifest is invalid: {exc}") from None
    config = image_config.stored_config(parsed)  # read when the config blob is cached
    known = config if isinstance(config, image_config.ImageConfig) else None
    reserve = functools.partial(push.reserve, project=project, repository_name=name)
    for _ in range(push.ATTEMPTS):
        try:
            # config_read: else read when the config blob lands (manifests.landed)
            reservation = reserve(parsed=parsed, tag=tag, image_config=known, config_read=True)
            with push.pinned(reservation):
                artifact = push.complete(reservation=reservation, tag=tag, actor=PROXY)
                # kept with its artifact, in its transaction (the row goes with it: CASCADE)
                _keep(name, parsed, body, artifact)
                tag_row = Tag.objects.filter(repository=reservation.repository, name=tag).first()
            break
        except push.ArtifactGone:
            continue
        except (push.BlobsBeingDeleted, IntegrityError, DomainError) as exc:
            # over the quota, or an immutable tag here that moved upstream: the client
            # gets what it asked for, the cache keeps what it had (nothing of this one:
            # materialize() would otherwise put it into storage past the quota)
            message = getattr(exc, "message", str(exc))
            logger.warning(
                "proxy cache: %s@%s served, not recorded: %s", name, parsed.digest, message
            )
            return Served(body, parsed.media_type, parsed.digest, None, None, None)
    else:
        return Served(body, parsed.media_type, parsed.digest, None, None, None)
    # after the answer (the served bytes are CachedManifest's, not distribution's)
    transaction.on_commit(lambda: services.later(functools.partial(materialize, name)))
    repository = reservation.repository
    repository.project = project
    return Served(body, parsed.media_type, parsed.digest, repository, artifact, tag_row)


def _keep(name: str, parsed: ParsedManifest, body: bytes, artifact: Artifact) -> None:
    """The manifest's bytes, as served (one statement: insert, or update the row a
    recording before left)."""
    CachedManifest.objects.bulk_create(
        [
            CachedManifest(
                repository=name,
                digest=parsed.digest,
                media_type=parsed.media_type,
                body=body,
                artifact=artifact,
            )
        ],
        update_conflicts=True,
        unique_fields=["repository", "digest"],
        update_fields=["media_type", "body", "artifact", "cached_time"],
    )


def audit_stale(served: Served, *, actor: Actor, project: Project) -> None:
    """The audit log says a pull was answered from the cache, and why."""
    where = f":{served.tag.name}" if served.tag else f"@{served.digest}"
    name = served.repository.name if served.repository else ""
    services.log(
        project_id=project.pk,
        message=f"served {name}{where} from the cache: {served.stale_reason}",
    )
    record(
        actor=actor,
        operation="pull",
        resource_type="artifact",
        resource=f"{name}{where}",
        project_id=project.pk,
        project_name=project.name,
        description=f"served from the proxy cache: {served.stale_reason}"[:1000],
    )


def materialize(name: str) -> int:
    """Put the cached manifests of `name` into distribution once it accepts them (their
    blobs, or an index's children, are stored): children first. The number put."""
    put = 0
    pending = list(
        CachedManifest.objects.filter(repository=name, stored=False).order_by("pk")[:100]
    )
    for row in sorted(pending, key=lambda r: _is_index(r.media_type)):
        if not _blobs_stored(name, bytes(row.body), row.media_type):
            continue
        try:
            result = upstream.request(
                "PUT",
                name,
                f"/v2/{name}/manifests/{row.digest}",
                _PUSH,
                headers={"Content-Type": row.media_type},
                content=bytes(row.body),
            )
        except httpx.HTTPError:
            return put
        if result.status_code == 201:
            CachedManifest.objects.filter(pk=row.pk).update(stored=True)
            put += 1
    return put


def _is_index(media_type: str) -> bool:
    return "index" in media_type or "manifest.list" in media_type


def _blobs_stored(name: str, body: bytes, media_type: str) -> bool:
    """Whether distribution holds what it checks before it accepts the manifest (so that
    a PUT it would refuse is not sent)."""
    try:
        parsed = parse_manifest(body, media_type)
    except ManifestInvalid:
        return False
    if parsed.is_index:
        return all(
            CachedManifest.objects.filter(repository=name, digest=c.digest, stored=True).exists()
            for c in parsed.children
        )
    for descriptor in [parsed.config, *parsed.layers]:
        if descriptor is None:
            continue
        size = storage_probe.linked_blob_size(name, descriptor.digest)
        if size is None:
            return False
    return True


def landed(name: str, digest: str) -> None:
    """A blob of `name` is cached now: read configs that waited for it, and put the
    manifests distribution now accepts."""
    from registry import config_queue

    waiting = Artifact.objects.filter(
        repository__name=name,
        blobs__digest=digest,
        blobs__content_type=F("media_type"),  # the config blob (as pending_configs finds it)
        extra_attrs={},
    ).values_list("pk", flat=True)
    for artifact_id in waiting:
        config_queue.add(artifact_id)
    materialize(name)
