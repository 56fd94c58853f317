"""Harbor's artifact group (scan and vulnerabilities aside), under
/projects/{project_name}/repositories/{repository_name}/artifacts, and the project-wide
listing /projects/{project_name_or_id}/artifacts."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.api.params import bool_param, is_resource_name, validated_body
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found
from projects.selectors import ProjectAccess, find_project
from registry import artifact_extras, charts, copying, deletion, queries, selectors, services
from registry.api.base import full_name, require, require_by_name
from registry.api.serializers import (
    AccessorySerializer,
    ArtifactSerializer,
    LabelIdSerializer,
    NewTagSerializer,
    TagSerializer,
)
from registry.models import Artifact, Label, Repository, Tag
from registry.names import is_digest, is_tag, valid_repository_name

ADDITIONS = {
    "build_history",
    "values.yaml",
    "readme.md",
    "dependencies",
    "sbom",
    "license",
    "files",
}


def _options(request: Request) -> dict[str, bool]:
    return {
        "with_tag": bool_param(request, "with_tag", True),
        "with_label": bool_param(request, "with_label", False),
        "with_accessory": bool_param(request, "with_accessory", False),
        "with_scan_overview": bool_param(request, "with_scan_overview", False),
        "with_sbom_overview": bool_param(request, "with_sbom_overview", False),
    }


def _artifact_bodies(artifacts: list[Artifact], options: dict[str, bool]) -> list[dict[str, Any]]:
    context: dict[str, Any] = dict(options)
    context["links"] = artifact_extras.links(artifacts)
    if options["with_accessory"]:
        context["accessories"] = selectors.accessories_of(artifacts)
    for flag, field in (
        ("with_scan_overview", "scan_overview"),
        ("with_sbom_overview", "sbom_overview"),
    ):
        if options[flag]:
            context[field] = artifact_extras.values(field, artifacts)
    return ArtifactSerializer(artifacts, many=True, context=context).data  # type: ignore[return-value]  # many=True: a list


class RepositoryScopedView(GenericAPIView):
    """Routes below /projects/{project_name}/repositories/{repository_name}."""

    def access(self, resource: str, action: str) -> ProjectAccess:
        return require_by_name(self.request, self.kwargs["project_name"], resource, action)

    def repository(self, access: ProjectAccess) -> Repository:
        name = full_name(self.kwargs["project_name"], self.kwargs["repository_name"])
        return selectors.repository_in(access.project, name)

    def artifact(self, resource: str, action: str) -> Artifact:
        repository = self.repository(self.access(resource, action))
        return selectors.artifact_in(repository, self.kwargs["reference"])


class ArtifactsView(RepositoryScopedView):
    serializer_class = ArtifactSerializer

    @extend_schema(operation_id="listArtifacts", responses=ArtifactSerializer(many=True))
    def get(self, request: Request, project_name: str, repository_name: str) -> Response:
        repository = self.repository(self.access("artifact", "list"))
        options = _options(request)
        artifacts = queries.filter_artifacts(
            Artifact.objects.filter(repository=repository), request.query_params.get("q")
        )
        artifacts = queries.sort_artifacts(artifacts, request.query_params.get("sort"))
        details = selectors.artifacts_with_details(
            artifacts, with_tag=options["with_tag"], with_label=options["with_label"]
        )
        page = self.paginate_queryset(details) or []
        return self.get_paginated_response(_artifact_bodies(page, options))

    @extend_schema(operation_id="CopyArtifact", request=None, responses={201: None})
    def post(self, request: Request, project_name: str, repository_name: str) -> Response:
        access = self.access("artifact", "create")
        destination = full_name(project_name, repository_name)
        if not valid_repository_name(destination):
            raise bad_request(f"invalid repository name {destination}")
        source_name, reference = _parse_from(request.query_params.get("from", ""))
        source_access = require_by_name(request, source_name.split("/", 1)[0], "artifact", "read")
        source = selectors.artifact_in(
            selectors.repository_in(source_access.project, source_name), reference
        )
        copying.copy_artifact(
            source=source,
            project=access.project,
            destination=destination,
            actor=Actor.of_request(request),
        )
        response = Response(status=201)
        response["Location"] = f"{request.path.rstrip('/')}/{reference}"
        return response


def _parse_from(raw: str) -> tuple[str, str]:
    """`from` of CopyArtifact: project/repository:tag or project/repository@digest."""
    if "@" in raw:
        name, _, reference = raw.partition("@")
        valid = is_digest(reference)
    else:
        name, _, reference = raw.rpartition(":")
        valid = is_tag(reference) and "/" not in reference
    if not (valid and valid_repository_name(name)):
        raise bad_request(f"invalid input: {raw}")
    return name, reference


class ArtifactView(RepositoryScopedView):
    serializer_class = ArtifactSerializer

    @extend_schema(operation_id="getArtifact", responses=ArtifactSerializer)
    def get(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("artifact", "read")
        options = _options(request)
        details = selectors.artifacts_with_details(
            Artifact.objects.filter(pk=artifact.pk),
            with_tag=options["with_tag"],
            with_label=options["with_label"],
        )
        return Response(_artifact_bodies(list(details), options)[0])

    @extend_schema(operation_id="deleteArtifact", responses={200: None})
    def delete(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("artifact", "delete")
        if not deletion.delete_artifact(
            artifact=artifact,
            actor=Actor.of_request(request),
        ):
            raise not_found(f"artifact {artifact.digest} was deleted meanwhile")
        return Response(status=200)


class TagsView(RepositoryScopedView):
    serializer_class = TagSerializer

    @extend_schema(operation_id="listTags", responses=TagSerializer(many=True))
    def get(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("tag", "list")
        params = request.query_params
        tags = queries.apply(
            Tag.objects.filter(artifact=artifact), params.get("q"), params.get("sort"), queries.TAGS
        )
        page = self.paginate_queryset(tags)
        return self.get_paginated_response(TagSerializer(page, many=True).data)

    @extend_schema(operation_id="createTag", request=NewTagSerializer, responses={201: None})
    def post(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("tag", "create")
        name = validated_body(NewTagSerializer, request)["name"]
        services.create_tag(artifact=artifact, name=name, actor=Actor.of_request(request))
        return Response(status=201)


class TagView(RepositoryScopedView):
    @extend_schema(operation_id="deleteTag", responses={200: None})
    def delete(
        self,
        request: Request,
        project_name: str,
        repository_name: str,
        reference: str,
        tag_name: str,
    ) -> Response:
        artifact = self.artifact("tag", "delete")
        tag = Tag.objects.filter(artifact=artifact, name=tag_name).select_related(
            "repository__project"
        )
        found = tag.first()
        if found is None:
            raise not_found(f"tag {tag_name} attached to artifact {artifact.pk} not found")
        services.delete_tag(tag=found, actor=Actor.of_request(request))
        return Response(status=200)


class AccessoriesView(RepositoryScopedView):
    serializer_class = AccessorySerializer

    @extend_schema(operation_id="listAccessories", responses=AccessorySerializer(many=True))
    def get(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("accessory", "list")
        params = request.query_params
        accessories = queries.apply(
            Artifact.objects.select_related("repository").filter(
                repository_id=artifact.repository_id, subject_digest=artifact.digest
            ),
            params.get("q"),
            params.get("sort"),
            queries.ACCESSORIES,
        )
        page = self.paginate_queryset(accessories)
        context = {"subjects": {(artifact.repository_id, artifact.digest): artifact.pk}}
        return self.get_paginated_response(
            AccessorySerializer(page, many=True, context=context).data
        )


class AdditionView(RepositoryScopedView):
    # The addition as stored: JSON (build history: a list) or text (readme, values).
    @extend_schema(operation_id="getAddition", responses={200: OpenApiTypes.ANY})
    def get(
        self,
        request: Request,
        project_name: str,
        repository_name: str,
        reference: str,
        addition: str,
    ) -> HttpResponse:
        artifact = self.artifact("artifact-addition", "read")
        addition = addition.lower()  # Harbor takes the name in any case
        if addition not in ADDITIONS:
            raise not_found(f"addition {addition} not found")
        if artifact.type == "CHART" and addition in charts.ADDITIONS:
            try:
                content, content_type = charts.chart_files(artifact).addition(addition)
            except charts.ChartUnreadable as exc:
                raise not_found(
                    f"addition {addition} of artifact {artifact.digest}: {exc}"
                ) from None
            return HttpResponse(content, content_type=content_type)
        found = artifact.additions.filter(type=addition).first()
        if found is None:
            raise not_found(f"addition {addition} of artifact {artifact.digest} not found")
        return HttpResponse(found.content, content_type=found.content_type)


class ArtifactLabelsView(RepositoryScopedView):
    @extend_schema(operation_id="addLabel", request=LabelIdSerializer, responses={200: None})
    def post(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("artifact-label", "create")
        body = LabelIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        label = Label.objects.filter(pk=body.validated_data["id"]).first()
        if label is None:
            raise not_found(f"label {body.validated_data['id']} not found")
        services.add_label(
            artifact=artifact,
            label=label,
            actor=Actor.of_request(request),
        )
        return Response(status=200)


class ArtifactLabelView(RepositoryScopedView):
    @extend_schema(operation_id="removeLabel", responses={200: None})
    def delete(
        self,
        request: Request,
        project_name: str,
        repository_name: str,
        reference: str,
        label_id: int,
    ) -> Response:
        services.remove_label(
            artifact=self.artifact("artifact-label", "delete"),
            label_id=label_id,
            actor=Actor.of_request(request),
        )
        return Response(status=200)


class ProjectArtifactsView(GenericAPIView):
    serializer_class = ArtifactSerializer

    @extend_schema(operation_id="listArtifactsOfProject", responses=ArtifactSerializer(many=True))
    def get(self, request: Request, project_name_or_id: str) -> Response:
        project = find_project(project_name_or_id, is_name=is_resource_name(request))
        access = require(request, project, project_name_or_id, "artifact", "list")
        params = request.query_params
        options = _options(request)
        artifacts = queries.filter_artifacts(
            Artifact.objects.filter(repository__project=access.project), params.get("q")
        )
        if bool_param(request, "latest_in_repository", False):
            artifacts = queries.latest_in_repository(artifacts, params.get("q"))
        artifacts = queries.sort_artifacts(artifacts, params.get("sort"))
        details = selectors.artifacts_with_details(
            artifacts, with_tag=options["with_tag"], with_label=options["with_label"]
        )
        page = self.paginate_queryset(details) or []
        return self.get_paginated_response(_artifact_bodies(page, options))
