"""Reads: the keys a project trusts, and the signature accessories of an artifact."""

from __future__ import annotations

import hashlib

from django.db.models import Exists, OuterRef, Q, QuerySet

from registry.accessories import SIGNATURE_TYPES
from registry.models import Artifact, ArtifactReference
from signatures.models import SignatureCheck, TrustedKey


def project_keys(project_id: int) -> QuerySet[TrustedKey]:
    return TrustedKey.objects.filter(project_id=project_id).order_by("pk")


def system_keys() -> QuerySet[TrustedKey]:
    return TrustedKey.objects.filter(project__isnull=True).order_by("pk")


def trusted_by(project_id: int) -> list[TrustedKey]:
    """The project's keys and the system's, which every project trusts."""
    return list(
        TrustedKey.objects.filter(Q(project_id=project_id) | Q(project__isnull=True)).order_by("pk")
    )


def key_set(keys: list[TrustedKey]) -> str:
    """What a stored check is valid for: a hash of the keys (empty set: "none")."""
    if not keys:
        return "none"
    text = ",".join(sorted(f"{k.pk}:{k.fingerprint}" for k in keys))
    return hashlib.sha256(text.encode()).hexdigest()


def signatures_of(artifact: Artifact, kinds: tuple[str, ...] = SIGNATURE_TYPES) -> list[Artifact]:
    return list(
        Artifact.objects.filter(
            repository_id=artifact.repository_id,
            subject_digest=artifact.digest,
            accessory_type__in=kinds,
        ).order_by("pk")
    )


def signed_artifacts(project_id: int | None) -> QuerySet[Artifact]:
    """The artifacts of the project (None: of every project) that have a signature
    accessory, with their repository."""
    signature = Artifact.objects.filter(
        repository_id=OuterRef("repository_id"),
        subject_digest=OuterRef("digest"),
        accessory_type__in=SIGNATURE_TYPES,
    )
    found = Artifact.objects.filter(Exists(signature)).select_related("repository")
    if project_id is not None:
        found = found.filter(repository__project_id=project_id)
    return found.order_by("pk")


def parent_indexes(artifact: Artifact) -> list[Artifact]:
    """The indexes that list `artifact` (a platform image of a signed index is signed)."""
    ids = ArtifactReference.objects.filter(child=artifact).values_list("parent_id", flat=True)
    return list(Artifact.objects.filter(pk__in=list(ids)).order_by("pk"))


def signed_states(artifacts: list[Artifact]) -> dict[int, str]:
    """For a page of artifacts: "verified" (a stored check by a trusted key, for the keys
    trusted now), "signed" (a signature accessory, not verified yet or with no trusted key),
    or nothing. Two queries for the page; no verification runs here."""
    if not artifacts:
        return {}
    rows = list(
        Artifact.objects.filter(
            repository_id__in={a.repository_id for a in artifacts},
            subject_digest__in={a.digest for a in artifacts},
            accessory_type__in=SIGNATURE_TYPES,
        ).values_list("pk", "repository_id", "subject_digest")
    )
    if not rows:
        return {}
    key_sets: dict[int, str] = {}
    for artifact in artifacts:
        project_id = artifact.repository.project_id
        if project_id not in key_sets:
            key_sets[project_id] = key_set(trusted_by(project_id))
    verified = set(
        SignatureCheck.objects.filter(
            signature_id__in=[pk for pk, _, _ in rows],
            key_set__in=set(key_sets.values()),
            status=SignatureCheck.Status.VERIFIED,
        ).values_list("signature_id", flat=True)
    )
    states: dict[int, str] = {}
    by_subject = {(a.repository_id, a.digest): a for a in artifacts}
    for pk, repository_id, subject in rows:
        shown = by_subject.get((repository_id, subject))
        if shown is None:
            continue
        if pk in verified:
            states[shown.pk] = "verified"
        else:
            states.setdefault(shown.pk, "signed")
    return states
