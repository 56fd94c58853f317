"""Reads that only the UI needs: an artifact's layers with what they share, its build
history, the pull commands, and the quotas of a page of projects. Everything else comes
from the apps' own selectors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from accounts.models import User
from frontend.models import UiPreferences
from quotas.models import Quota
from registry.models import Artifact, ArtifactAddition, ArtifactBlob, Label
from registry.selectors import listable

# How many other artifacts a layer's row counts at most: a base layer may be shared by
# every artifact of the registry (100,000 in Harbor's small data set: 200 ms to count them
# all, each time the page is shown); past this the page says "more than".
SHARED_COUNT_CAP = 1000


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int
    shared_with: int  # other artifacts (in any repository) that reference the same blob,
    # counted up to SHARED_COUNT_CAP + 1

    @property
    def shared_beyond_cap(self) -> bool:
        return self.shared_with > SHARED_COUNT_CAP


@dataclass(frozen=True)
class LayerSummary:
    layers: list[Layer]
    total: int
    shared: int  # bytes stored once for this artifact and others: what sharing saves

    @property
    def unique(self) -> int:
        return self.total - self.shared

    @property
    def cap(self) -> int:
        return SHARED_COUNT_CAP


def layers(artifact: Artifact) -> LayerSummary:
    """The artifact's layer blobs in manifest order (rows are written in that order), its
    own manifest and config left out, each with how many other artifacts use it (up to
    SHARED_COUNT_CAP + 1: each count reads at most that many index entries)."""
    table = ArtifactBlob._meta.db_table
    # A count over a LIMITed subquery, which the ORM cannot write: Count() over a join reads
    # every artifact_blob row of the blob. `table` is the model's own table name.
    others = RawSQL(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} other WHERE other.blob_id = "
        f"{table}.blob_id AND other.artifact_id <> %s LIMIT %s) capped",
        (artifact.pk, SHARED_COUNT_CAP + 1),
    )
    rows = (
        ArtifactBlob.objects.filter(artifact=artifact)
        .exclude(blob__digest=artifact.digest)
        .exclude(blob__content_type=artifact.media_type)
        .select_related("blob")
        .annotate(others=others)
        .order_by("pk")
    )
    found = [Layer(r.blob.digest, r.blob.content_type, r.blob.size, r.others) for r in rows]
    total = sum(layer.size for layer in found)
    shared = sum(layer.size for layer in found if layer.shared_with)
    return LayerSummary(found, total, shared)


def build_history(artifact: Artifact) -> list[dict[str, str]]:
    """The image config's history, as recorded after the push (empty until it is read)."""
    addition = artifact.additions.filter(type=ArtifactAddition.Type.BUILD_HISTORY).first()
    if addition is None:
        return []
    try:
        steps = json.loads(addition.content)
    except ValueError:
        return []
    return [step for step in steps if isinstance(step, dict)] if isinstance(steps, list) else []


def registry_host() -> str:
    return urlsplit(settings.HARBOR["EXTERNAL_URL"]).netloc


def pull_commands(repository: str, reference: str) -> dict[str, str]:
    """docker, podman and skopeo commands for `repository` at a tag or digest. Over plain
    HTTP podman and skopeo need --tls-verify=false (docker needs an insecure-registries
    entry in its daemon configuration instead)."""
    plain = settings.HARBOR["EXTERNAL_URL"].startswith("http://")
    separator = "@" if reference.startswith("sha256:") else ":"
    image = f"{registry_host()}/{repository}{separator}{reference}"
    tls = " --tls-verify=false" if plain else ""
    local_name = repository.rsplit("/", 1)[-1]
    return {
        "docker": f"docker pull {image}",
        "podman": f"podman pull{tls} {image}",
        "skopeo": f"skopeo copy{tls.replace('tls', 'src-tls')} docker://{image} oci:{local_name}",
    }


def quotas_by_project(project_ids: list[int]) -> dict[int, Quota]:
    """One query for the quotas of a page of projects (projects without a row are left
    out: their row and usage are made the first time their own page asks)."""
    return {quota.project_id: quota for quota in Quota.objects.filter(project_id__in=project_ids)}


def push_commands(project: str) -> dict[str, str]:
    """How to push into `project` with docker, podman, helm (OCI), oras and skopeo, with
    the placeholders Harbor's push-command helper uses. Over plain HTTP the tools that
    check TLS get their flag (docker needs an insecure-registries entry instead)."""
    plain = settings.HARBOR["EXTERNAL_URL"].startswith("http://")
    target = f"{registry_host()}/{project}/REPOSITORY[:TAG]"
    tls = " --tls-verify=false" if plain else ""
    plain_http = " --plain-http" if plain else ""
    return {
        "docker": f"docker tag SOURCE_IMAGE[:TAG] {target} && docker push {target}",
        "podman": f"podman push{tls} SOURCE_IMAGE[:TAG] {target}",
        "helm": f"helm push{plain_http} CHART_PACKAGE oci://{registry_host()}/{project}",
        "oras": f"oras push{plain_http} {target} FILE[:MEDIA_TYPE]",
        "skopeo": f"skopeo copy{tls.replace('tls', 'dest-tls')} SOURCE_IMAGE docker://{target}",
    }


def project_artifact_count(project_id: int) -> int:
    """Artifacts as the repository lists count them (index children and accessories are
    shown under their parent)."""
    return Artifact.objects.filter(listable(), repository__project_id=project_id).count()


def labels_for_project(project_id: int) -> QuerySet[Label]:
    """The labels an artifact of the project may carry: the project's and the global ones."""
    return Label.objects.filter(
        Q(scope=Label.Scope.GLOBAL) | Q(scope=Label.Scope.PROJECT, project_id=project_id)
    ).order_by("scope", "name")


def hidden_columns(user: User, table: str) -> list[str]:
    """The columns `user` hid in a large list (`frontend.columns`)."""
    preferences = UiPreferences.objects.filter(user=user).first()
    return list(preferences.hidden_columns.get(table, [])) if preferences else []
