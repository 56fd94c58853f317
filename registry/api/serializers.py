"""Harbor's Repository, Artifact, Tag, Label and Accessory bodies (API v2.0 definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from immutable.selectors import immutable_checker
from registry import accessories
from registry.artifact_types import icon_of
from registry.charts import ADDITIONS as CHART_ADDITIONS
from registry.manifests import IMAGE_MANIFESTS
from registry.models import Artifact, ArtifactReference, Label, Tag

# What Go's zero time.Time serialises to: Harbor's "never pulled".
ZERO_TIME = "0001-01-01T00:00:00.000Z"
# Harbor's Platform definition names these two with quotes inside the JSON key.
PLATFORM_KEYS = {
    "architecture": "architecture",
    "os": "os",
    "variant": "variant",
    "os.version": "'os.version'",
    "os.features": "'os.features'",
}


@extend_schema_field(OpenApiTypes.DATETIME)
class PullTimeField(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> str:
        when = value.pull_time
        return ZERO_TIME if when is None else serializers.DateTimeField().to_representation(when)


class RepositorySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    project_id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    artifact_count = serializers.IntegerField(default=0)
    pull_count = serializers.IntegerField()
    creation_time = serializers.DateTimeField()
    update_time = serializers.DateTimeField()


class RepositoryUpdateSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True, required=False, default="")


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    repository_id = serializers.IntegerField()
    artifact_id = serializers.IntegerField()
    name = serializers.CharField()
    push_time = serializers.DateTimeField()
    pull_time = PullTimeField()
    immutable = serializers.SerializerMethodField()

    def get_immutable(self, tag: Tag) -> bool:
        # One rules lookup per repository and response, shared through the root's context.
        checkers = self.context.setdefault("immutable_checkers", {})  # type: ignore[attr-defined]  # the view's dict
        if tag.repository_id not in checkers:
            checkers[tag.repository_id] = immutable_checker(tag.repository_id)
        return checkers[tag.repository_id](tag.name)


class NewTagSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=128)


class LabelSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    color = serializers.CharField()
    scope = serializers.CharField()
    project_id = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField()
    update_time = serializers.DateTimeField()

    def get_project_id(self, label: Label) -> int:
        return label.project_id or 0


class LabelRequestSerializer(serializers.Serializer):
    name = serializers.CharField(allow_blank=True, required=False, default="")
    description = serializers.CharField(allow_blank=True, required=False, default="")
    color = serializers.CharField(allow_blank=True, required=False, default="")
    scope = serializers.CharField(allow_blank=True, required=False, default="")
    project_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class LabelIdSerializer(serializers.Serializer):
    id = serializers.IntegerField()


def accessory_type(artifact: Artifact) -> str:
    return accessories.type_of(artifact.accessory_type, artifact.artifact_type)


class AccessorySerializer(serializers.Serializer):
    """An artifact whose subject is another (Harbor's accessory). Context: `subjects`,
    {(repository_id, digest): artifact id} of the subjects."""

    id = serializers.IntegerField(source="pk")
    artifact_id = serializers.IntegerField(source="pk")
    subject_artifact_id = serializers.SerializerMethodField()
    subject_artifact_digest = serializers.CharField(source="subject_digest")
    subject_artifact_repo = serializers.CharField(source="repository.name")
    size = serializers.IntegerField()
    digest = serializers.CharField()
    type = serializers.SerializerMethodField()
    icon = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="push_time")

    def to_representation(self, instance: Artifact) -> dict[str, Any]:
        data = super().to_representation(instance)
        if data["subject_artifact_id"] is None:
            del data["subject_artifact_id"]
        return data

    def get_subject_artifact_id(self, artifact: Artifact) -> int | None:
        return self.context.get("subjects", {}).get(
            (artifact.repository_id, artifact.subject_digest)
        )

    def get_type(self, artifact: Artifact) -> str:
        return accessory_type(artifact)

    def get_icon(self, artifact: Artifact) -> str:
        return ""


def _reference(reference: ArtifactReference) -> dict[str, Any]:
    body: dict[str, Any] = {
        "parent_id": reference.parent_id,
        "child_digest": reference.child_digest,
    }
    if reference.child_id is not None:
        body["child_id"] = reference.child_id
    if reference.platform:
        body["platform"] = {
            PLATFORM_KEYS[k]: v for k, v in reference.platform.items() if k in PLATFORM_KEYS
        }
    if reference.annotations:
        body["annotations"] = reference.annotations
    if reference.urls:
        body["urls"] = reference.urls
    return body


def addition_links(artifact: Artifact, extra: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Harbor's links to the artifact's additions; `extra` names those other apps add
    (registry.artifact_extras.register_link)."""
    names: tuple[str, ...] = ()
    if artifact.manifest_media_type in IMAGE_MANIFESTS:
        if artifact.type == "IMAGE":
            names = ("build_history",)
        elif artifact.type == "CHART":
            names = CHART_ADDITIONS
    names = (*names, *extra)
    if not names:
        return {}
    project, _, path = artifact.repository.name.partition("/")
    base = (
        f"/api/v2.0/projects/{project}/repositories/{quote(quote(path, safe=''), safe='')}"
        f"/artifacts/{artifact.digest}/additions"
    )
    return {name: {"href": f"{base}/{name}", "absolute": False} for name in names}


class ArtifactSerializer(serializers.Serializer):
    """Context: with_tag, with_label, with_accessory (bools) and, with accessories,
    `accessories` = {(repository_id, digest): [Artifact]} for the artifacts shown."""

    id = serializers.IntegerField(source="pk")
    type = serializers.CharField()
    media_type = serializers.CharField()
    manifest_media_type = serializers.CharField()
    artifact_type = serializers.CharField()
    project_id = serializers.IntegerField(source="repository.project_id")
    repository_id = serializers.IntegerField()
    repository_name = serializers.CharField(source="repository.name")
    digest = serializers.CharField()
    size = serializers.IntegerField()
    icon = serializers.SerializerMethodField()
    push_time = serializers.DateTimeField()
    pull_time = PullTimeField()
    extra_attrs = serializers.JSONField()
    annotations = serializers.JSONField()
    references = serializers.SerializerMethodField()
    tags = TagSerializer(many=True, source="tags.all")
    labels = LabelSerializer(many=True, source="labels.all")
    accessories = serializers.SerializerMethodField()
    addition_links = serializers.SerializerMethodField()
    # From registry.artifact_extras (scanning), on with_scan_overview / with_sbom_overview.
    scan_overview = serializers.SerializerMethodField()
    sbom_overview = serializers.SerializerMethodField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for flag, name, default in (
            ("with_tag", "tags", True),
            ("with_label", "labels", False),
            ("with_accessory", "accessories", False),
        ):
            if not self.context.get(flag, default):
                self.fields.pop(name)
        for name in ("scan_overview", "sbom_overview"):
            if name not in self.context:
                self.fields.pop(name)

    def get_icon(self, artifact: Artifact) -> str:
        return icon_of(artifact.type)

    def get_references(self, artifact: Artifact) -> list[dict[str, Any]]:
        return [_reference(r) for r in artifact.references.all()]

    def get_accessories(self, artifact: Artifact) -> list[dict[str, Any]]:
        found = self.context.get("accessories", {}).get(
            (artifact.repository_id, artifact.digest), []
        )
        subjects = {(artifact.repository_id, artifact.digest): artifact.pk}
        return AccessorySerializer(found, many=True, context={"subjects": subjects}).data  # type: ignore[return-value]  # many=True: a list

    def to_representation(self, instance: Artifact) -> dict[str, Any]:
        body = super().to_representation(instance)
        for name in ("scan_overview", "sbom_overview"):
            if name in body and body[name] is None:
                del body[name]  # Harbor leaves it out when there is no report
        return body

    def get_scan_overview(self, artifact: Artifact) -> dict[str, Any] | None:
        return self.context["scan_overview"].get(artifact.pk)

    def get_sbom_overview(self, artifact: Artifact) -> dict[str, Any] | None:
        return self.context["sbom_overview"].get(artifact.pk)

    def get_addition_links(self, artifact: Artifact) -> dict[str, dict[str, Any]]:
        return addition_links(artifact, self.context.get("links", {}).get(artifact.pk, ()))
