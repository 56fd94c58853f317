"""Consistency between the database and registry storage, in both directions, and the
repairs that are safe while the registry runs (`manage.py registry_fsck [--repair]`).

    missing_blobs       blobs an artifact references, absent from storage (the artifact is
                        broken; reported, not repairable here: the bytes are gone)
    missing_manifests   artifacts whose manifest revision link or manifest data is gone;
                        repair deletes the artifact rows (the image cannot be pulled anyway)
    unknown_blobs       blobs in storage without a row; repair adopts them as rows dated
                        by their upload, so that GC takes them once unreferenced and old
    stale_tags          tags in storage that the database does not have (tags are served
                        from the database); repair removes the storage tag
    unknown_manifests   revision links no artifact of that repository matches (reported;
                        GC removes them with their manifest blob)
    rows_without_data   unreferenced blob rows whose data is gone (reported; GC drops them)
    wrong_sizes         blob rows whose size is not the stored data's (recorded from a
                        manifest's claim before pushes were checked, issue #20); repair
                        writes the true size and recomputes the usage of every project
                        referencing the blob

Artifacts pushed within the last `grace` are left out: a push records its artifact just
before distribution stores the manifest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from harbor_gc.storage import Storage, StoredBlob
from harbor_py.core.actor import Actor
from projects.models import Project
from quotas import services as quota_services
from registry import services
from registry.models import Artifact, Blob, Tag

FSCK_USER = "harbor-fsck"
FSCK = Actor.system(FSCK_USER)  # the audit log's operator of repairs
ADOPT_CHUNK = 1000


@dataclass
class Report:
    missing_blobs: dict[str, list[str]] = field(default_factory=dict)  # digest -> artifacts
    missing_manifests: list[tuple[int, str, str]] = field(default_factory=list)  # id, repo, digest
    unknown_blobs: list[StoredBlob] = field(default_factory=list)
    stale_tags: list[tuple[str, str]] = field(default_factory=list)  # repository, tag
    unknown_manifests: list[tuple[str, str]] = field(default_factory=list)  # repository, digest
    rows_without_data: list[str] = field(default_factory=list)
    wrong_sizes: list[tuple[str, int, int]] = field(default_factory=list)  # digest, row, data
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def drift(self) -> bool:
        return any(
            [
                self.missing_blobs,
                self.missing_manifests,
                self.unknown_blobs,
                self.stale_tags,
                self.unknown_manifests,
                self.rows_without_data,
                self.wrong_sizes,
            ]
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "missing_blobs": [
                {"digest": d, "artifacts": a} for d, a in sorted(self.missing_blobs.items())
            ],
            "missing_manifests": [
                {"id": pk, "repository": repo, "digest": digest}
                for pk, repo, digest in self.missing_manifests
            ],
            "unknown_blobs": [
                {"digest": b.digest, "size": b.size} for b in sorted(self.unknown_blobs, key=_key)
            ],
            "stale_tags": [{"repository": r, "tag": t} for r, t in sorted(self.stale_tags)],
            "unknown_manifests": [
                {"repository": r, "digest": d} for r, d in sorted(self.unknown_manifests)
            ],
            "rows_without_data": sorted(self.rows_without_data),
            "wrong_sizes": [
                {"digest": d, "recorded": row, "stored": data}
                for d, row, data in sorted(self.wrong_sizes)
            ],
            "repaired": self.repaired,
        }


def _key(blob: StoredBlob) -> str:
    return blob.digest


def check(storage: Storage, *, grace: dt.timedelta = dt.timedelta(minutes=10)) -> Report:
    report = Report()
    settled = timezone.now() - grace
    stored = {blob.digest: blob for blob in storage.blobs()}
    revisions: set[tuple[str, str]] = set()
    storage_tags: set[tuple[str, str]] = set()
    for link in storage.links():
        if link.kind == "revision":
            revisions.add((link.repository, link.digest))
        elif link.kind == "tag_current":
            storage_tags.add((link.repository, link.tag))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.digest, r.name, a.digest FROM artifact_blob ab"
            " JOIN blob b ON b.id = ab.blob_id JOIN artifact a ON a.id = ab.artifact_id"
            " JOIN repository r ON r.id = a.repository_id WHERE a.push_time < %s",
            [settled],
        )
        for blob_digest, repository, artifact_digest in cursor.fetchall():
            if blob_digest not in stored:
                report.missing_blobs.setdefault(blob_digest, []).append(
                    f"{repository}@{artifact_digest}"
                )

    artifacts = Artifact.objects.values_list("pk", "repository__name", "digest", "push_time")
    in_database: set[tuple[str, str]] = set()
    for pk, repository, digest, push_time in artifacts.iterator(chunk_size=5000):
        in_database.add((repository, digest))
        if push_time >= settled:
            continue
        if (repository, digest) not in revisions or digest not in stored:
            report.missing_manifests.append((pk, repository, digest))
    report.unknown_manifests = sorted(revisions - in_database)

    known: dict[str, tuple[bool, str]] = {}  # digest -> (referenced, status)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT b.digest, EXISTS (SELECT 1 FROM artifact_blob ab WHERE ab.blob_id = b.id),"
            " b.status, b.size FROM blob b"
        )
        for digest, referenced, status, size in cursor.fetchall():
            known[digest] = (referenced, status)
            # 0 is "not known yet" (a blob HEAD's row) until a manifest references it
            if digest in stored and stored[digest].size != size and (size or referenced):
                report.wrong_sizes.append((digest, size, stored[digest].size))
    report.unknown_blobs = [blob for digest, blob in stored.items() if digest not in known]
    report.rows_without_data = sorted(
        digest
        for digest, (referenced, status) in known.items()
        if not referenced and status == Blob.Status.NONE and digest not in stored
    )

    tags = set(Tag.objects.values_list("repository__name", "name").iterator(chunk_size=5000))
    report.stale_tags = sorted(storage_tags - tags)
    return report


def repair(storage: Storage, report: Report) -> dict[str, int]:
    """Fix what is safe to fix while the registry runs; returns counts per kind."""
    deleted, their_tags = _delete_broken_artifacts(report.missing_manifests)
    adopted = _adopt(report.unknown_blobs)
    resized = _fix_sizes(report.wrong_sizes)
    stale = sorted(set(report.stale_tags) | their_tags)
    for repository, tag in stale:
        storage.delete_tag(repository, tag)
    report.repaired = {
        "artifacts_deleted": deleted,
        "blobs_adopted": adopted,
        "storage_tags_removed": len(stale),
        "blob_sizes_fixed": resized,
    }
    return report.repaired


def _delete_broken_artifacts(
    broken: list[tuple[int, str, str]],
) -> tuple[int, set[tuple[str, str]]]:
    """Returns the count and the tags that went with them (stale in storage from now on)."""
    count = 0
    tags: set[tuple[str, str]] = set()
    for pk, _, _ in broken:
        artifact = Artifact.objects.select_related("repository").filter(pk=pk).first()
        if artifact is None:
            continue
        names = artifact.tags.values_list("name", flat=True)
        tags.update((artifact.repository.name, name) for name in names)
        services.delete_artifacts(root=artifact, artifacts=[artifact], actor=FSCK)
        count += 1
    return count, tags


def _adopt(blobs: list[StoredBlob]) -> int:
    """Rows dated by the upload (never later than now): GC applies its window from there.
    DO NOTHING keeps a row that a push created meanwhile."""
    now = timezone.now()
    adopted = 0
    ordered = sorted(blobs, key=_key)
    for start in range(0, len(ordered), ADOPT_CHUNK):
        chunk = ordered[start : start + ADOPT_CHUNK]
        params: list[Any] = []
        for blob in chunk:
            dated = min(blob.modified, now)
            params += [blob.digest, blob.size, dated, dated]
        values = ", ".join(["(%s, '', %s, 'none', 0, %s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO blob (digest, content_type, size, status, version, creation_time,"
                f" update_time) VALUES {values} ON CONFLICT (digest) DO NOTHING",
                params,
            )
            adopted += cursor.rowcount
    return adopted


def _fix_sizes(wrong: list[tuple[str, int, int]]) -> int:
    """True sizes into the rows, then the usage of each project referencing one of them."""
    if not wrong:
        return 0
    with transaction.atomic():
        for digest, _, size in wrong:
            Blob.objects.filter(digest=digest).update(size=size)
    projects = Project.objects.filter(
        repositories__artifacts__blobs__digest__in=[digest for digest, _, _ in wrong]
    ).distinct()
    for project in projects:
        quota_services.recalculate(project=project)
    return len(wrong)
