"""Recording a manifest push, in two short transactions around distribution's PUT.

    reserve()  before the PUT: repository, artifact and its blob references, with the GC
               guard (blobs touched; a blob being deleted refuses the push)
    complete() after distribution accepted it: the tag and the audit record
    release()  after distribution refused it: drop what reserve() created

Recording the references before the bytes are committed to distribution is what keeps GC
from sweeping a blob that a manifest is about to name (ARCHITECTURE.md §4).

Both phases pin the artifact row (registry.locks) against deleters: reserve() while it
records the references, and `pinned()` from before distribution's PUT to the end of
complete(). A deleter that removed the row between the two (GC taking a still untagged
artifact, an API delete) makes `pinned()` raise ArtifactGone before anything is PUT: the
caller runs the steps again (at most ATTEMPTS rounds), recording the artifact anew and
putting back the manifest the deleter took from distribution (docs/deletes.md).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import record
from harbor_gc import guard
from harbor_py.core.actor import Actor
from harbor_py.core.db import (
    IGNORE_CONFLICTS,
    fetch_all,
    found_or_inserted,
    insert,
    insert_with_child,
)
from harbor_py.core.events import publish
from immutable.enforcement import TagImmutable, check_move
from immutable.selectors import immutable_tags
from projects.models import Project
from quotas import usage
from quotas.events import QuotaExceeded, QuotaWarning
from registry import accessories, config_queue, locks
from registry.events import ArtifactPushed, TagCreated
from registry.image_config import ImageConfig
from registry.manifests import ParsedManifest
from registry.models import (
    Artifact,
    ArtifactAddition,
    ArtifactBlob,
    ArtifactReference,
    Repository,
    Tag,
)

ATTEMPTS = 3  # reserve / PUT / complete rounds when a deleter takes the artifact between


class BlobsBeingDeleted(Exception):
    def __init__(self, digests: set[str]) -> None:
        super().__init__(", ".join(sorted(digests)))
        self.digests = digests


class ProjectGone(Exception):
    """The project was deleted after the gate looked it up, before the push recorded a
    repository in it."""


class ArtifactGone(Exception):
    """A deleter removed the reserved artifact before pinned() could pin it."""


@dataclass(frozen=True)
class Reservation:
    project: Project
    repository: Repository
    artifact: Artifact
    created: bool
    config_pending: bool = False  # read the config after commit (registry.pending_configs)
    tag_existed: bool = True  # the pushed tag pointed somewhere when reserve() looked


_REPOSITORY_SQL = """
SELECT r.id, r.project_id, (
    SELECT a.digest FROM tag t JOIN artifact a ON a.id = t.artifact_id
    WHERE t.repository_id = r.id AND t.name = %s
) FROM repository r WHERE r.name = %s
"""
# Pinned: a repository delete (which locks the row first) makes the push wait, and then
# it finds no row and creates the repository anew, instead of recording an artifact in
# a repository deleted meanwhile (a foreign-key error at commit).
_PINNED_REPOSITORY_SQL = _REPOSITORY_SQL.rstrip() + " FOR KEY SHARE OF r"


def _repository(
    project: Project, name: str, tag: str | None
) -> tuple[Repository, str | None, bool]:
    """The repository (id, project and name loaded), the digest `tag` points at now, and
    whether this push created the repository; read in one statement on a cursor: this runs
    on every push (harbor_py.core.db says why)."""
    sql = _PINNED_REPOSITORY_SQL if locks.key_share() else _REPOSITORY_SQL
    # A missing repository is inserted in the same statement (harbor_py.core.db), only
    # while the project's row is there, pinned: a project delete that committed since the
    # gate looked the project up (it refuses only while repositories exist) would make the
    # insert fail on the foreign key, a 500; one in progress waits for us.
    created = Repository(project=project, name=name)
    pinned = (f"EXISTS (SELECT 1 FROM project WHERE id = %s{locks.key_share()})", [project.pk])
    row, made = found_or_inserted(sql, [tag or "", name], created, pinned)
    if made:
        return created, None, True  # new: no tags, no artifacts yet
    if row is None:  # a concurrent push made it, or no project
        with connection.cursor() as cursor:
            cursor.execute(sql, [tag or "", name])
            row = cursor.fetchone()
        if row is None:
            raise ProjectGone(project.name)
    repository_id, project_id, tagged = row
    repository = Repository.from_db(
        connection.alias, ["id", "project_id", "name"], [repository_id, project_id, name]
    )
    return repository, tagged if tag else None, False


def _size(parsed: ParsedManifest, repository: Repository) -> int:
    if parsed.is_index:
        children = Artifact.objects.filter(
            repository=repository, digest__in=[c.digest for c in parsed.children]
        ).aggregate(total=Sum("size"))["total"]
        return parsed.size + (children or 0)
    return sum(d.size for d in parsed.blob_descriptors())


def _new_artifact(
    parsed: ParsedManifest,
    repository: Repository,
    image_config: ImageConfig | None,
    tag: str | None = None,
) -> Artifact:
    subject_digest, accessory_type = accessories.classify(parsed, tag)
    return Artifact(
        repository=repository,
        digest=parsed.digest,
        type=parsed.artifact_kind,
        media_type=parsed.harbor_media_type,
        manifest_media_type=parsed.media_type,
        artifact_type=parsed.artifact_type,
        subject_digest=subject_digest,
        accessory_type=accessory_type,
        size=_size(parsed, repository),
        annotations=parsed.annotations,
        extra_attrs=image_config.extra_attrs if image_config else {},
    )


_ADOPT_CHILD_SQL = """
UPDATE artifact_reference SET child_id = %s
WHERE child_digest = %s AND child_id IS NULL
  AND parent_id IN (SELECT id FROM artifact WHERE repository_id = %s)
"""


def _artifact(
    parsed: ParsedManifest,
    repository: Repository,
    image_config: ImageConfig | None,
    tag: str | None = None,
) -> tuple[Artifact, bool]:
    """The artifact row of this digest, and whether this push created it: one INSERT for a
    new digest (with its build history, when the config has one), and the stored row when
    the digest was pushed before."""
    while True:
        artifact = _new_artifact(parsed, repository, image_config, tag)
        history = image_config.history if image_config is not None else None
        if history is None:
            written = insert([artifact], on_conflict=IGNORE_CONFLICTS, returning_pk=True)
        else:
            written = insert_with_child(artifact, _build_history(artifact, history))
        if written:
            return artifact, True
        # Pinned: a deleter that holds it makes us wait, and then we insert it again.
        stored = fetch_all(
            Artifact,
            f"repository_id = %s AND digest = %s{locks.key_share()}",
            [repository.pk, parsed.digest],
        )
        if stored:  # else deleted since the INSERT saw it: insert again
            return stored[0], False


def _references(
    artifact: Artifact, parsed: ParsedManifest, repository: Repository, *, new_repository: bool
) -> None:
    # An index pushed before this child was (re)pushed points at it by digest only. A
    # repository this push created holds no index yet: another push's index waits for
    # this transaction at the repository's unique name, and then sees this child.
    if not new_repository:
        with connection.cursor() as cursor:
            cursor.execute(_ADOPT_CHILD_SQL, [artifact.pk, artifact.digest, repository.pk])
    if not parsed.children:
        return
    digests = sorted({c.digest for c in parsed.children})
    placeholders = ", ".join(["%s"] * len(digests))
    children = {
        a.digest: a
        for a in fetch_all(  # pinned, as a tagged artifact is: a deleter re-checks after us
            Artifact,
            f"repository_id = %s AND digest IN ({placeholders}) ORDER BY id{locks.key_share()}",
            [repository.pk, *digests],
        )
    }
    insert(
        [
            ArtifactReference(
                parent=artifact,
                child=children.get(c.digest),
                child_digest=c.digest,
                platform=c.platform,
                annotations=c.annotations,
                urls=c.urls,
            )
            for c in parsed.children
        ],
        on_conflict=IGNORE_CONFLICTS,
    )


P = ParamSpec("P")
# Harbor's QUOTA_WARNING: a push takes the project's storage past this share of its limit.
QUOTA_WARNING_PERCENT = 85


R = TypeVar("R")


def _in_transaction() -> bool:
    """Whether an atomic block is open (one that a test case opened around the test
    does not count: it stands for the autocommit of production)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def quota_exceeded_published(function: Callable[P, R]) -> Callable[P, R]:
    """Publish `quota_exceeded` when `function` (keyword arguments `project`,
    `repository_name`, `parsed`) refused the push over the quota, once no transaction is
    open any more: an event published inside one would vanish with its rollback. A
    caller that runs reserve() inside its own transaction (a copy records both phases in
    one) wears this decorator too, outside that transaction, and publishes it there."""

    @functools.wraps(function)
    def reserving(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except usage.QuotaExceeded as exc:
            if exc.published or _in_transaction():
                raise
            exc.published = True
            project: Project = kwargs["project"]  # type: ignore[assignment]  # keyword-only
            parsed: ParsedManifest = kwargs["parsed"]  # type: ignore[assignment]  # likewise
            publish(
                QuotaExceeded(
                    project=project.name,
                    repository=str(kwargs["repository_name"]),
                    digest=parsed.digest,
                    used=exc.used,
                    hard=exc.hard,
                    adding=exc.adding,
                )
            )
            raise

    return reserving


def _warn(project: Project, before: int, after: int, hard: int) -> None:
    """`quota_warning` when this push crossed QUOTA_WARNING_PERCENT of the limit."""
    if hard > 0 and before * 100 < hard * QUOTA_WARNING_PERCENT <= after * 100:
        publish(QuotaWarning(project=project.name, used=after, hard=hard))


@quota_exceeded_published
@transaction.atomic
def reserve(
    *,
    project: Project,
    repository_name: str,
    parsed: ParsedManifest,
    tag: str | None = None,
    image_config: ImageConfig | None = None,
    config_read: bool = False,
    sizes: dict[str, int] | None = None,
) -> Reservation:
    """Raises QuotaExceeded and TagImmutable (DomainErrors) with nothing recorded.

    `image_config` is recorded with a new artifact; `config_read` says the caller already
    read the config (`image_config`, or nothing worth recording), otherwise a JSON config is
    read after commit. `sizes`: the blobs' stored sizes (`registry.blob_sizes`), recorded
    instead of the sizes the manifest declares."""
    repository, tagged, new_repository = _repository(project, repository_name, tag)
    if tag:
        check_move(
            project_id=project.pk,
            repository_name=repository_name,
            tag=tag,
            current=tagged,
            new=parsed.digest,
        )
    descriptors = parsed.blob_descriptors()
    blobs, deleting = guard.touch(
        [d.digest for d in descriptors],
        sizes=sizes if sizes is not None else {d.digest: d.size for d in descriptors},
        media_types={d.digest: d.media_type for d in descriptors},
    )
    if deleting:
        raise BlobsBeingDeleted(deleting)
    # Lock order: repository, blobs, artifacts (this one, an index's children), quota
    # (deleters: repository, artifacts, quota).
    artifact, created = _artifact(parsed, repository, image_config, tag)
    if created and artifact.subject_digest:  # an accessory: its subject's deleter waits
        locks.pin_subject(repository.pk, artifact.subject_digest)
    if created:
        _references(artifact, parsed, repository, new_repository=new_repository)
    # Last, for the blob references only: what a push does holding it never waits for a
    # delete's uncommitted rows (quotas.usage's notes). After the touch: while a push
    # waits here its blob rows stay locked, so GC skips them.
    quota = usage.lock(project.pk)
    used = usage.charge(
        quota,
        {blob.id: blob.size for blob in blobs.values()},
        [ArtifactBlob(artifact=artifact, blob_id=blob.id) for blob in blobs.values()],
    )
    _warn(project, quota.used, used, quota.hard)
    config_pending = created and not config_read and artifact.media_type.endswith("json")
    return Reservation(
        project, repository, artifact, created, config_pending, tag_existed=tagged is not None
    )


def release(reservation: Reservation) -> None:
    """distribution refused the manifest: forget the artifact if this push created it."""
    if reservation.created:
        with transaction.atomic():
            locks.for_delete([reservation.artifact.pk])
            with usage.recomputed(reservation.project.pk):
                Artifact.objects.filter(pk=reservation.artifact.pk, tags__isnull=True).delete()


@contextmanager
def pinned(reservation: Reservation) -> Iterator[None]:
    """The transaction of distribution's PUT and complete(): the artifact row is pinned
    first, so no deleter removes it, or its manifest from distribution, until the tag is
    written. Raises ArtifactGone, before anything is PUT, when one removed it since
    reserve()."""
    with transaction.atomic():
        if not locks.pin(reservation.artifact.pk):
            raise ArtifactGone(reservation.artifact.digest)
        yield


def complete(*, reservation: Reservation, tag: str | None, actor: Actor) -> Artifact:
    """The tag and the audit record, in the caller's transaction: pinned()'s, or the one
    around reserve() too (no savepoint of its own: this runs on every push)."""
    if not connection.in_atomic_block:
        raise RuntimeError("push.complete() runs inside push.pinned() or a transaction")
    artifact, repository = reservation.artifact, reservation.repository
    if tag:
        _write_tag(reservation, tag)
    if reservation.config_pending:
        transaction.on_commit(lambda: config_queue.add(artifact.pk))
    _publish(reservation, tag, actor.username)
    record(
        actor=actor,
        operation="create",
        resource_type="artifact",
        resource=f"{repository.name}:{tag}" if tag else f"{repository.name}@{artifact.digest}",
        project_id=reservation.project.pk,
        project_name=reservation.project.name,
    )
    return artifact


def _publish(reservation: Reservation, tag: str | None, operator: str) -> None:
    project, repository = reservation.project.name, reservation.repository.name
    digest = reservation.artifact.digest
    tags = (tag,) if tag else ()
    publish(ArtifactPushed(project, repository, digest, tags, operator))
    if tag and not reservation.tag_existed:
        publish(TagCreated(project, repository, tag, digest, operator))


_MOVE_TAG = (
    "ON CONFLICT (repository_id, name) DO UPDATE "
    "SET artifact_id = EXCLUDED.artifact_id, push_time = EXCLUDED.push_time"
)


def _write_tag(reservation: Reservation, tag: str) -> None:
    """Point `tag` at the pushed artifact. reserve() checked immutability, but two pushes of
    one new protected tag may both pass it; for a protected tag the write itself decides:
    the first tag row wins, and a push that finds it on another digest is refused."""
    artifact, repository = reservation.artifact, reservation.repository
    row = Tag(repository=repository, artifact=artifact, name=tag, push_time=timezone.now())
    # A tag that did not exist overwrites nothing, so no rule can refuse it: one INSERT, and
    # the rules are read only if another push created the tag in between.
    if not reservation.tag_existed and insert([row], on_conflict=IGNORE_CONFLICTS):
        return
    if not immutable_tags(reservation.project.pk, repository.name, [tag]):
        insert([row], on_conflict=_MOVE_TAG)
        return
    insert([row], on_conflict=IGNORE_CONFLICTS)  # waits for a concurrent writer
    current = Tag.objects.filter(repository=repository, name=tag)
    if current.values_list("artifact_id", flat=True).first() != artifact.pk:
        raise TagImmutable(repository.name, tag)
    current.update(push_time=row.push_time)


def apply_image_config(artifact: Artifact, image_config: ImageConfig) -> None:
    Artifact.objects.filter(pk=artifact.pk).update(extra_attrs=image_config.extra_attrs)
    artifact.extra_attrs = image_config.extra_attrs
    if image_config.history is not None:
        _add_build_history(artifact, image_config.history)


def _build_history(artifact: Artifact, history: list[object]) -> ArtifactAddition:
    return ArtifactAddition(
        artifact=artifact,
        type=ArtifactAddition.Type.BUILD_HISTORY,
        content=json.dumps(history, separators=(",", ":")),
    )


def _add_build_history(artifact: Artifact, history: list[object]) -> None:
    insert([_build_history(artifact, history)], on_conflict=IGNORE_CONFLICTS)
