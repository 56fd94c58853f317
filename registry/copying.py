"""CopyArtifact: an artifact, its index children and accessories, into another repository.

No layer byte passes through Python: every blob is linked into the destination with
distribution's cross-repository mount (POST /v2/<dst>/blobs/uploads/?mount=&from=, with
an internal token that pulls the source and pushes the destination). Only manifests are
read and written, and each goes through the normal recording path.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects.models import Project
from registry import accessories, services, upstream
from registry.image_config import ImageConfig, fetch_config
from registry.manifests import MANIFEST_ACCEPT, ManifestInvalid, digest_of, parse_manifest
from registry.models import Artifact, ArtifactAddition, Repository

PULL, PUSH = frozenset({"pull"}), frozenset({"pull", "push"})
MAX_DEPTH = 4


def _failed(message: str) -> DomainError:
    return DomainError(Code.UNKNOWN, f"copy failed: {message}")


def _config_of(source: Artifact) -> ImageConfig:
    addition = source.additions.filter(type=ArtifactAddition.Type.BUILD_HISTORY).first()
    history = json.loads(addition.content) if addition else None
    return ImageConfig(extra_attrs=source.extra_attrs, history=history)


class _Copy:
    def __init__(
        self,
        *,
        source: Repository,
        project: Project,
        destination: str,
        actor: Actor,
    ) -> None:
        self.source = source
        self.project = project
        self.destination = destination
        self.actor = actor

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return upstream.request(
                method, self.destination, path, PUSH, also=((self.source.name, PULL),), **kwargs
            )
        except httpx.HTTPError as exc:
            raise _failed(f"the registry is unavailable: {exc}") from None

    def _mount(self, digest: str) -> None:
        src, dst = self.source.name, self.destination
        result = self._call("POST", f"/v2/{dst}/blobs/uploads/?mount={digest}&from={src}")
        if result.status_code == 201:
            return
        if result.status_code == 202 and "Location" in result.headers:
            # distribution started a plain upload instead: abandon it, bytes stay out of here
            self._call("DELETE", httpx.URL(result.headers["Location"]).raw_path.decode())
        raise _failed(f"blob {digest} could not be mounted from {src} ({result.status_code})")

    def _manifest(self, digest: str) -> tuple[bytes, str]:
        src = self.source.name
        result = self._call(
            "GET", f"/v2/{src}/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT}
        )
        if result.status_code != 200 or digest_of(result.content) != digest:
            raise _failed(f"manifest {src}@{digest} not readable ({result.status_code})")
        return result.content, result.headers.get("Content-Type", "")

    def artifact(self, digest: str, depth: int = 0, tag: str | None = None) -> Artifact:
        """`tag`: the cosign tag-scheme name an accessory of that kind is linked by."""
        existing = Artifact.objects.filter(repository__name=self.destination, digest=digest)
        if found := existing.first():
            return found
        if depth > MAX_DEPTH:
            raise _failed(f"{digest} is nested deeper than {MAX_DEPTH} indexes")
        body, content_type = self._manifest(digest)
        try:
            parsed = parse_manifest(body, content_type)
        except ManifestInvalid as exc:
            raise _failed(f"manifest {digest} is invalid: {exc}") from None
        for child in parsed.children:
            self.artifact(child.digest, depth + 1)
        blobs = ([parsed.config] if parsed.config else []) + parsed.layers
        for digest_to_mount in dict.fromkeys(d.digest for d in blobs if not d.urls):
            self._mount(digest_to_mount)
        result = self._call(
            "PUT",
            f"/v2/{self.destination}/manifests/{tag or digest}",
            headers={"Content-Type": parsed.media_type},
            content=body,
        )
        if result.status_code != 201:
            raise _failed(f"the registry refused manifest {digest} ({result.status_code})")
        source = Artifact.objects.filter(repository=self.source, digest=digest).first()
        config = _config_of(source) if source else fetch_config(self.destination, parsed)
        copied = services.record_manifest_push(
            project=self.project,
            repository_name=self.destination,
            parsed=parsed,
            tag=tag,
            actor=self.actor,
            image_config=config,
        )
        linked = Artifact.objects.filter(repository=self.source, subject_digest=digest)
        scheme = accessories.scheme_tags(digest)
        for accessory in linked.prefetch_related("tags").order_by("pk"):
            names = [t.name for t in accessory.tags.all() if t.name in scheme]
            self.artifact(accessory.digest, depth + 1, names[0] if names else None)
        return copied


def copy_artifact(
    *,
    source: Artifact,
    project: Project,
    destination: str,
    actor: Actor,
) -> Artifact:
    """Copy `source` into repository `destination` of `project`, with all its tags."""
    copy = _Copy(
        source=source.repository,
        project=project,
        destination=destination,
        actor=actor,
    )
    copied = copy.artifact(source.digest)
    names = list(source.tags.order_by("name").values_list("name", flat=True))
    services.attach_tags(artifact=copied, names=names, actor=actor)
    return copied
