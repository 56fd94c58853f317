"""harbor_py.core.cascade deletes what Django's Collector deletes (issue #25): every row
that references the artifacts, as its `on_delete` says, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from harbor_py.core import cascade
from proxy_cache.models import CachedManifest
from registry.models import (
    Artifact,
    ArtifactAddition,
    ArtifactBlob,
    ArtifactLabel,
    ArtifactReference,
    Blob,
    Label,
    Repository,
    Tag,
)
from scanning.models import ScanReport, Vulnerability
from signatures.models import SignatureCheck

pytestmark = pytest.mark.django_db

TABLES = (
    Artifact,
    ArtifactAddition,
    ArtifactBlob,
    ArtifactLabel,
    ArtifactReference,
    Blob,
    CachedManifest,
    Label,
    ScanReport,
    SignatureCheck,
    Tag,
    Vulnerability,
)


def _artifact(repository: Repository, name: str, **fields: Any) -> Artifact:
    return Artifact.objects.create(
        repository=repository,
        digest=f"sha256:{name:0>64}",
        media_type="application/vnd.oci.image.config.v1+json",
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        **fields,
    )


def _everything_referencing(artifact: Artifact, blob: Blob, label: Label, n: str) -> None:
    Tag.objects.create(repository=artifact.repository, artifact=artifact, name=f"t{n}")
    ArtifactBlob.objects.create(artifact=artifact, blob=blob)
    ArtifactAddition.objects.create(artifact=artifact, type="build_history", content="[]")
    ArtifactLabel.objects.create(artifact=artifact, label=label)
    report = ScanReport.objects.create(
        artifact=artifact, digest=artifact.digest, registration_uuid="r", mime_type="m"
    )
    Vulnerability.objects.create(report=report, cve_id=f"CVE-{n}", package="p", severity="High")
    SignatureCheck.objects.create(signature=artifact, key_set="k", status="verified")
    CachedManifest.objects.create(
        repository=artifact.repository.name,
        digest=artifact.digest,
        media_type="m",
        body=b"{}",
        artifact=artifact,
    )


@pytest.fixture
def doomed(make_project) -> list[int]:
    """An index and its child (both to go), each with one row of every kind that
    references an artifact; another index (kept) that references the child too; a kept
    artifact with rows of its own. The ids of the two to delete."""
    project = make_project("cascade")
    repository = Repository.objects.create(project=project, name="cascade/app")
    label = Label.objects.create(name="l", scope=Label.Scope.GLOBAL)
    blob = Blob.objects.create(digest="sha256:" + "b" * 64, size=10)
    index, child, other, kept = (_artifact(repository, n) for n in "1234")
    for n, artifact in enumerate((index, child, kept)):
        _everything_referencing(artifact, blob, label, str(n))
    for parent in (index, other):
        ArtifactReference.objects.create(parent=parent, child=child, child_digest=child.digest)
    ArtifactReference.objects.create(parent=index, child=None, child_digest="sha256:" + "9" * 64)
    return [index.pk, child.pk]


def _state() -> dict[str, list[tuple]]:
    return {
        model.__name__: sorted(tuple(row.values()) for row in model.objects.order_by().values())
        for model in TABLES
    }


def _after(delete) -> dict[str, list[tuple]]:
    """The rows once `delete` ran, rolled back after."""
    with transaction.atomic():
        delete()
        state = _state()
        transaction.set_rollback(True)
    return state


def test_the_set_based_delete_leaves_what_djangos_delete_leaves(doomed):
    before = _state()
    by_django = _after(lambda: Artifact.objects.filter(pk__in=doomed).delete())
    by_sql = _after(lambda: cascade.delete(Artifact, doomed))
    assert by_sql == by_django
    assert by_sql != before
    # the kept index's reference to the deleted child is kept, its child unset
    assert [r for r in by_sql["ArtifactReference"] if r[2] is None]
    assert len(by_sql["Artifact"]) == 2


def test_in_two_parts_around_a_lock_it_deletes_the_same(doomed):
    by_django = _after(lambda: Artifact.objects.filter(pk__in=doomed).delete())

    def in_two_parts() -> None:
        cascade.delete(Artifact, doomed, but=(Tag, Artifact))
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM tag WHERE artifact_id IN (%s, %s)", doomed)
            assert cursor.fetchone()[0] == 2  # the tags wait for the second part
        cascade.delete(Artifact, doomed, only=(Tag, Artifact))

    assert _after(in_two_parts) == by_django


def test_delete_signals_are_refused_at_planning(monkeypatch):
    from django.db.models import signals

    def receiver(**kwargs: Any) -> None:
        raise AssertionError("not called")

    cascade.plan.cache_clear()
    signals.post_delete.connect(receiver, sender=Tag)
    try:
        with pytest.raises(ValueError, match="signal"):
            cascade.plan(Artifact, connection.vendor)
    finally:
        signals.post_delete.disconnect(receiver, sender=Tag)
        cascade.plan.cache_clear()
