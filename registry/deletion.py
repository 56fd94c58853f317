"""Deleting artifacts and repositories (API, /v2, GC, replication): storage, then the
database, in one transaction that holds the rows' locks.

Whoever decided the delete on a snapshot (GC's list of untagged artifacts, an API caller's
view), the artifacts are locked first (registry.locks), the condition is checked again on
the locked rows, and only then are the manifests deleted from distribution (so pullers
get MANIFEST_UNKNOWN even from a node that still resolves the digest) and the rows removed
with the audit record. A push that reuses one of the artifacts meanwhile waits for the
lock and records itself again (docs/deletes.md). Blobs are left to garbage collection.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import httpx
from django.db import OperationalError, connection, transaction
from psycopg import errors as pg_errors

from harbor_py.core.actor import Actor
from harbor_py.core.db import fetch_all
from harbor_py.core.errors import Code, DomainError
from immutable.enforcement import check_artifacts_deletable, refusals
from registry import locks, selectors, services, upstream
from registry.models import Artifact, ArtifactReference, Repository, Tag

DELETE = frozenset({"delete"})
RETRIES = 3
LOCK_ROUNDS = 5  # rounds of locking what a deletion set gained meanwhile
_P = ParamSpec("_P")
_R = TypeVar("_R")


class ReferencedByIndex(DomainError):
    def __init__(self) -> None:
        message = "the deleting artifact is referenced by others"
        super().__init__(Code.VIOLATE_FOREIGN_KEY_CONSTRAINT, message)


def _delete_manifest(repository: str, digest: str) -> httpx.Response:
    """distribution 2.8 writes a tag's link file in place: a DELETE that reads it while a
    push is writing it fails with a 5xx ("invalid checksum digest format"). Such answers
    are retried a few times; anything else is final."""
    for attempt in range(1, RETRIES + 1):
        try:
            result = upstream.request(
                "DELETE", repository, f"/v2/{repository}/manifests/{digest}", DELETE
            )
        except httpx.HTTPError as exc:
            raise DomainError(Code.UNKNOWN, f"the registry is unavailable: {exc}") from None
        if result.status_code < 500:
            break
        if attempt < RETRIES:
            time.sleep(0.05 * attempt)
    return result


def _delete_manifests(repository: str, digests: list[str]) -> None:
    for digest in digests:
        result = _delete_manifest(repository, digest)
        # 404: storage had already lost it; the rows go either way.
        if result.status_code not in (202, 404):
            raise DomainError(
                Code.UNKNOWN,
                f"the registry refused to delete {repository}@{digest} ({result.status_code})",
            )


def _locked_deletion_set(root: Artifact, *, deep: bool) -> list[Artifact]:
    """What deleting the locked `root` removes, every row of it locked. Children and
    accessories are locked after they were read, so the set is read again until it gains
    nothing: a child a push tagged before its lock was taken drops out."""
    if not deep:
        if ArtifactReference.objects.filter(child=root).exists():
            raise ReferencedByIndex
        return [root]
    locked = {root.pk}
    for _ in range(LOCK_ROUNDS):
        doomed = selectors.deletion_set(root)
        if doomed is None:
            raise ReferencedByIndex
        gained = {a.pk for a in doomed} - locked
        if not gained:
            return doomed
        locked |= gained
        locks.for_delete(gained)
    raise DomainError(Code.CONFLICT, "the artifact's children changed while deleting it; try again")


def _retried(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `function` in a transaction of its own, again (at most RETRIES times) when
    PostgreSQL aborted it as a deadlock victim or a serialization failure. The lock order
    is not total: a deep delete locks its root, then the (often older) children; a
    repository delete locks every artifact in id order (docs/deletes.md)."""

    @functools.wraps(function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        for attempt in range(1, RETRIES + 1):
            try:
                with transaction.atomic():
                    return function(*args, **kwargs)
            except OperationalError as exc:
                transient = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
                # Inside a caller's transaction the locks it holds stay: no point retrying.
                if connection.in_atomic_block or not isinstance(exc.__cause__, transient):
                    raise
                if attempt == RETRIES:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    return run


@_retried
def delete_artifact(
    *,
    artifact: Artifact,
    actor: Actor,
    deep: bool = True,
    still_wanted: Callable[[Artifact], bool] | None = None,
    reason: str = "",
) -> bool:
    """Delete `artifact` (with its accessories and the children nothing else keeps when
    `deep`) if it still exists and `still_wanted` (checked on the locked row) agrees;
    whether it was deleted. `reason` goes into the audit record (retention: the policy).
    Raises ReferencedByIndex and the immutability errors."""
    if not locks.for_delete([artifact.pk]):
        return False  # a concurrent delete took it
    if still_wanted is not None and not still_wanted(artifact):
        return False
    doomed = _locked_deletion_set(artifact, deep=deep)
    check_artifacts_deletable(doomed)
    _delete_manifests(artifact.repository.name, [a.digest for a in doomed])
    services.delete_artifacts(root=artifact, artifacts=doomed, actor=actor, reason=reason)
    return True


# The roots of a batch that have an index above them, children or accessories: the
# others are their own deletion set, without a statement each. Each part on its index
# (an EXISTS per root let the planner hash the whole artifact table: 40 ms a batch in a
# project of 120,000 artifacts).
_FAMILIES = (
    "SELECT child_id FROM artifact_reference WHERE child_id IN ({ids}) "
    "UNION ALL SELECT parent_id FROM artifact_reference WHERE parent_id IN ({ids}) "
    "UNION ALL SELECT a.id FROM artifact a JOIN artifact s ON s.subject_digest = a.digest "
    "AND s.repository_id = a.repository_id WHERE a.id IN ({ids}) AND s.subject_digest IN "
    "({digests})"
)


def _families(roots: list[Artifact]) -> set[int]:
    """The roots with an index above them, children or accessories."""
    if not roots:
        return set()
    ids, marks = [r.pk for r in roots], ", ".join(["%s"] * len(roots))
    with connection.cursor() as cursor:
        cursor.execute(
            _FAMILIES.format(ids=marks, digests=marks),
            [*ids, *ids, *ids, *[r.digest for r in roots]],
        )
        return {pk for (pk,) in cursor.fetchall()}


Outcome = bool | DomainError


@_retried
def delete_artifacts(
    *,
    artifacts: Sequence[Artifact],
    actor: Actor,
    still_wanted: Callable[[Artifact, list[Tag]], bool],
    reason: str = "",
) -> dict[int, Outcome]:
    """`delete_artifact` (deep) of several artifacts of one project in one transaction:
    each root's outcome (True: deleted; False: gone meanwhile, or `still_wanted`, given
    the root and its tags on its locked row, refused; else why it was kept). The rows are
    locked and their tags read once for the batch; the roots without an index above or
    below them and without accessories (all of Harbor's small set) are their own deletion
    set, checked against the immutability rules at once and deleted, audited and
    released from the quota with one set of statements (services.unlink, then
    services.finish: the quota row last, once); the others go one by one before them, in
    the same transaction. A push that re-tags one of them waits for the whole batch. Each
    root's manifests are deleted from distribution on their own: one that distribution
    refuses keeps that root, not the batch."""
    if len({a.repository.project_id for a in artifacts}) > 1:
        raise ValueError("the artifacts of one project at a time: one quota row")
    outcomes: dict[int, Outcome] = {}
    locked = locks.for_delete([a.pk for a in artifacts])
    tags: dict[int, list[Tag]] = {pk: [] for pk in locked}
    if locked:
        for tag in fetch_all(Tag, f"artifact_id IN ({', '.join(['%s'] * len(locked))})", [*locked]):
            tags[tag.artifact_id].append(tag)
    roots = []
    for artifact in artifacts:
        wanted = artifact.pk in locked and still_wanted(artifact, tags[artifact.pk])
        outcomes[artifact.pk] = wanted
        if wanted:
            roots.append(artifact)
    families = _families(roots)
    unlinked: list[tuple[Artifact, list[Artifact]]] = []
    blobs: list[tuple[int, int]] = []

    def unlink(group: list[tuple[Artifact, list[Artifact]]]) -> None:
        refused = refusals({root.pk: doomed for root, doomed in group})
        done = []
        for root, doomed in group:
            if root.pk in refused:
                outcomes[root.pk] = refused[root.pk]
                continue
            try:
                _delete_manifests(root.repository.name, [a.digest for a in doomed])
            except DomainError as exc:  # this root's rows stay, as a single delete's would
                outcomes[root.pk] = exc
                continue
            done.append((root, doomed, tuple(sorted(t.name for t in tags[root.pk]))))
        if done:
            blobs.extend(services.unlink(done, actor=actor, reason=reason))
            unlinked.extend((root, doomed) for root, doomed, _ in done)

    # Indexes and artifacts with accessories one by one, each deletion set read after
    # the previous root's references went: a child two indexes of the batch share goes
    # with the second, as with two deletes one after the other.
    for root in (r for r in roots if r.pk in families):
        try:
            doomed = _locked_deletion_set(root, deep=True)
        except DomainError as exc:
            outcomes[root.pk] = exc
            continue
        unlink([(root, doomed)])
    unlink([(root, [root]) for root in roots if root.pk not in families])
    if unlinked:
        ids = [a.pk for _, doomed in unlinked for a in doomed]
        services.finish(unlinked[0][0].repository.project_id, ids, blobs)
    return outcomes


@_retried
def delete_repository(*, repository: Repository, actor: Actor) -> None:
    locks.repository_for_delete(repository.pk)
    locks.for_delete(repository.artifacts.values_list("pk", flat=True))
    check_artifacts_deletable(repository.artifacts.all())
    digests = list(repository.artifacts.values_list("digest", flat=True))
    _delete_manifests(repository.name, digests)
    services.delete_repository(repository=repository, actor=actor)
