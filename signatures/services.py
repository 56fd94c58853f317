"""Writes: trusted keys (audited, in one transaction with the change) and the stored
verification of signatures; the verdict of the content-trust policy on a pull."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.db import IGNORE_CONFLICTS, insert
from harbor_py.core.errors import bad_request, conflict
from harbor_py.core.events import publish
from projects.models import Project
from registry.accessories import COSIGN, NOTATION
from registry.models import Artifact, Repository
from signatures import generations, keys, reading, selectors, verification
from signatures.events import TrustedKeysChanged
from signatures.models import SignatureCheck, TrustedKey

MAX_KEYS = 100  # per project, and for the system
KIND_NAMES = {COSIGN: "cosign", NOTATION: "Notation"}


def _record_key(key: TrustedKey, actor: Actor, operation: str) -> None:
    project = key.project
    record(
        actor=actor,
        operation=operation,
        resource_type="trusted_key",
        resource=f"{project.name if project else 'system'}/{key.name} ({key.fingerprint})",
        project_id=project.pk if project else None,
        project_name=project.name if project else "",
    )


@transaction.atomic
def add_key(
    *, project: Project | None, name: str, public_key: str, description: str, actor: Actor
) -> TrustedKey:
    """A trusted key for `project`, or for the system (every project) when None."""
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise bad_request("name is required (at most 128 characters)", key="key.name_required")
    parsed = keys.parse(public_key)
    existing = TrustedKey.objects.filter(project=project)
    if existing.count() >= MAX_KEYS:
        raise bad_request(
            f"at most {MAX_KEYS} trusted keys", key="key.too_many", params={"max": MAX_KEYS}
        )
    if existing.filter(fingerprint=parsed.fingerprint).exists():
        raise conflict(
            f"the key {parsed.fingerprint} is trusted already",
            key="key.trusted_already",
            params={"fingerprint": parsed.fingerprint},
        )
    key = TrustedKey(
        project=project,
        name=name,
        description=description or "",
        algorithm=parsed.algorithm,
        fingerprint=parsed.fingerprint,
        public_key=parsed.pem,
        creator=actor.username,
    )
    try:
        with transaction.atomic():
            key.save()
    except IntegrityError:
        raise conflict(
            f"the key {parsed.fingerprint} is trusted already",
            key="key.trusted_already",
            params={"fingerprint": parsed.fingerprint},
        ) from None
    _record_key(key, actor, "create")
    _keys_changed(project)
    return key


@transaction.atomic
def delete_key(*, key: TrustedKey, actor: Actor) -> None:
    _record_key(key, actor, "delete")
    project = key.project
    key.delete()
    _keys_changed(project)


def _keys_changed(project: Project | None) -> None:
    """Retire the cached pull verdicts in this transaction (a pull then looks up the checks
    for the new key set, never an older set's), and after commit re-verify the signatures
    in the background (signatures.tasks.on_keys_changed), so that pulls and pages find the
    new key set's checks stored."""
    generations.bump(project_id=project.pk if project else None)
    publish(TrustedKeysChanged(project_id=project.pk if project else 0))


@dataclass(frozen=True)
class Verdict:
    """A signature accessory and its stored check for the current key set."""

    signature: Artifact
    check: SignatureCheck


def _key_objects(trusted: list[TrustedKey]) -> list[verification.Key]:
    return [verification.Key(k.pk, k.name, keys.load(k.public_key)) for k in trusted]


def checked(artifact: Artifact, repository: Repository) -> list[Verdict]:
    """Every signature accessory of `artifact`, verified against the keys its project
    trusts now: stored checks are reused, missing ones verified and stored."""
    signatures = selectors.signatures_of(artifact)
    if not signatures:
        return []
    trusted = selectors.trusted_by(repository.project_id)
    key_set = selectors.key_set(trusted)
    stored = {
        c.signature_id: c
        for c in SignatureCheck.objects.filter(signature__in=signatures, key_set=key_set)
    }
    key_objects: list[verification.Key] | None = None
    by_id = {k.pk: k for k in trusted}
    verdicts = []
    for signature in signatures:
        check = stored.get(signature.pk)
        if check is None:
            if key_objects is None:
                key_objects = _key_objects(trusted)
            try:
                outcome = reading.check(signature, repository.name, artifact.digest, key_objects)
            except reading.Unavailable as exc:  # not stored: checked again next time
                check = SignatureCheck(
                    signature=signature,
                    key_set=key_set,
                    status=SignatureCheck.Status.INVALID,
                    message=f"not verified yet: {exc}",
                    checked_at=timezone.now(),
                )
                verdicts.append(Verdict(signature, check))
                continue
            check = SignatureCheck(
                signature=signature,
                key_set=key_set,
                status=outcome.status,
                key=by_id.get(outcome.key.id) if outcome.key else None,
                key_name=outcome.key.name if outcome.key else "",
                message=outcome.message,
            )
            insert([check], on_conflict=IGNORE_CONFLICTS)  # a concurrent check stored it
        verdicts.append(Verdict(signature, check))
    return verdicts


def recheck(*, project_id: int | None) -> int:
    """Verify the signatures of every signed artifact of the project (None: of every
    project, after a change of the system's keys) against the keys trusted now, and store
    the checks. A key change during the run is harmless: checks are stored under the key
    set they were made with, and the change starts another run. Returns how many signed
    artifacts were checked."""
    count = 0
    for artifact in selectors.signed_artifacts(project_id).iterator(chunk_size=200):
        checked(artifact, artifact.repository)
        count += 1
    return count


def _counts(verdict: Verdict, keyed: bool) -> bool:
    status = verdict.check.status
    return status == SignatureCheck.Status.VERIFIED or (
        not keyed and status == SignatureCheck.Status.UNTRUSTED
    )


def refusal(artifact: Artifact, repository: Repository, kinds: tuple[str, ...]) -> str | None:
    """Why the content-trust policy refuses pulling `artifact` (None: it allows it). Each
    kind in `kinds` needs a signature of that kind that verifies with a trusted key (with
    no trusted key configured: a well-formed signature over the artifact's digest, as
    Harbor). A platform image whose index is allowed is allowed."""
    keyed = bool(selectors.trusted_by(repository.project_id))
    verdicts = checked(artifact, repository)
    reasons = []
    for kind in kinds:
        mine = [v for v in verdicts if v.signature.accessory_type == kind]
        if any(_counts(v, keyed) for v in mine):
            continue
        name = KIND_NAMES[kind]
        if not mine:
            reasons.append(f"it has no {name} signature")
        else:
            details = "; ".join(f"{v.signature.digest[:19]}: {v.check.message}" for v in mine)
            reasons.append(f"no {name} signature verifies ({details})")
    if not reasons:
        return None
    for index in selectors.parent_indexes(artifact):
        index.repository = repository
        if refusal(index, repository, kinds) is None:
            return None
    target = f"{repository.name}@{artifact.digest}"
    trust = "a trusted key" if keyed else "a signature"
    return f"content trust: pulling {target} needs {trust}, but {', and '.join(reasons)}"
