"""This instance as a replication source or destination.

Choice (docs/architecture.md, "Replication"): replication talks to the local distribution
directly, through registry.upstream's client with internal tokens (subject harbor-core),
not through the public URL: no robot credential to manage, no nginx hop. Every manifest
it writes goes through registry.push's reserve / PUT / complete, like a client push, so
pulled-in artifacts are recorded (tags, blobs, GC guard, audit) and appear in the API.
Listings come from the database, which is the source of truth for tags.
"""

from __future__ import annotations

from accounts.models import User
from harbor_py.core.actor import Actor
from projects import services as project_services
from projects.models import Project
from registry import blob_sizes, push, upstream
from registry.manifests import ParsedManifest, parse_manifest
from registry.models import Artifact, Repository, Tag
from registry.names import is_digest
from replication.adapters.base import Grants, Inventory, SourceArtifact, TransferError
from replication.adapters.v2 import V2Client

REPLICATION = Actor.system("harbor-replication")  # the audit log's actor for replicated writes


class LocalRegistry(V2Client):
    def __init__(self) -> None:
        self.client = upstream.client()

    def close(self) -> None:
        """The pooled client is shared: nothing to close."""

    def headers_for(self, wanted: Grants | None) -> dict[str, str]:
        if not wanted:
            return {}
        (repository, actions), *also = wanted
        token = upstream.internal_token(repository, actions, also=tuple(also))
        return {"Authorization": f"Bearer {token}"}

    def repositories(self) -> list[str]:
        return list(Repository.objects.order_by("name").values_list("name", flat=True))

    def artifacts(self, repository: str) -> list[SourceArtifact]:
        """Top-level artifacts: untagged index children and accessories are left out
        (accessories travel with their subject)."""
        rows = Artifact.objects.filter(repository__name=repository)
        accessories: dict[str, list[str]] = {}
        for subject, digest in rows.exclude(subject_digest="").values_list(
            "subject_digest", "digest"
        ):
            accessories.setdefault(subject, []).append(digest)
        found = rows.filter(subject_digest="").prefetch_related("tags", "labels").order_by("pk")
        out = []
        for artifact in found:
            tags = tuple(sorted(t.name for t in artifact.tags.all()))
            if not tags and artifact.referenced_by.exists():
                continue
            labels = frozenset(label.name for label in artifact.labels.all())
            extra = tuple(sorted(accessories.get(artifact.digest, ())))
            out.append(SourceArtifact(artifact.digest, tags, labels, extra))
        return out

    def inventory(self, repository: str) -> Inventory:
        tags = dict(
            Tag.objects.filter(repository__name=repository).values_list("name", "artifact__digest")
        )
        digests = Artifact.objects.filter(repository__name=repository).values_list(
            "digest", flat=True
        )
        return Inventory(tags, set(digests))

    def referrers(self, repository: str, digest: str) -> list[str]:
        return list(
            Artifact.objects.filter(repository__name=repository, subject_digest=digest)
            .order_by("pk")
            .values_list("digest", flat=True)
        )

    def subject_of(self, repository: str, digest: str) -> str | None:
        found = Artifact.objects.filter(repository__name=repository, digest=digest)
        subject = found.values_list("subject_digest", flat=True).first()
        return subject or None

    def locate(self, digest: str) -> str | None:
        return (
            Repository.objects.filter(artifacts__blobs__digest=digest)
            .values_list("name", flat=True)
            .first()
        )

    def ensure_namespace(self, namespace: str) -> bool:
        if Project.objects.filter(name=namespace).exists():
            return False
        owner = User.objects.filter(is_superuser=True).order_by("pk").first()
        if owner is None:
            raise TransferError("no system administrator to own a replicated project")
        project_services.create_project(owner=owner, name=namespace, actor=Actor.of_user(owner))
        return True

    def repositories_in(self, namespace: str) -> set[str] | None:
        return set(
            Repository.objects.filter(project__name=namespace).values_list("name", flat=True)
        )

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> None:
        project = Project.objects.filter(name=repository.split("/", 1)[0]).first()
        if project is None:
            raise TransferError(f"project of {repository} does not exist")
        parsed = parse_manifest(body, media_type)
        content = (body, media_type)
        for _ in range(push.ATTEMPTS):
            try:
                return self._record_and_put(project, repository, reference, parsed, content)
            except push.ArtifactGone:
                continue  # deleted between reserve and complete: record and put it again
        raise TransferError(f"{repository}@{parsed.digest} was deleted while it was written")

    def _record_and_put(
        self,
        project: Project,
        repository: str,
        reference: str,
        parsed: ParsedManifest,
        content: tuple[bytes, str],
    ) -> None:
        try:
            sizes = blob_sizes.verified_sizes(repository, parsed)
            reservation = push.reserve(
                project=project, repository_name=repository, parsed=parsed, sizes=sizes
            )
        except push.BlobsBeingDeleted as exc:
            raise TransferError(f"blobs being garbage collected: {exc}") from None
        except blob_sizes.SizeRefused as exc:
            raise TransferError(f"the source's manifest is inconsistent: {exc.message}") from None
        try:
            with push.pinned(reservation):
                super().put_manifest(repository, parsed.digest, *content)
                push.complete(
                    reservation=reservation,
                    tag=None if is_digest(reference) else reference,
                    actor=REPLICATION,
                )
        except TransferError:
            push.release(reservation)
            raise
