"""Trusted keys of a project and of the system, and the verification of an artifact's
signatures (harbor-py's own endpoints: Harbor has no trusted keys)."""

from __future__ import annotations

from urllib.parse import unquote

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.api.params import validated_body
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core.actor import Actor
from harbor_py.core.errors import not_found
from projects.models import Project
from projects.scoped_view import ProjectScopedView
from projects.selectors import require_access_by_name
from registry import selectors as registry_selectors
from signatures import selectors, services
from signatures.api.serializers import SignatureSerializer, TrustedKeySerializer
from signatures.models import TrustedKey


def _created(request: Request, project: Project | None) -> Response:
    """Add the key of the request's body to `project` (None: the system's keys)."""
    body = validated_body(TrustedKeySerializer, request)
    key = services.add_key(
        project=project,
        name=body["name"],
        public_key=body["public_key"],
        description=body.get("description", ""),
        actor=Actor.of_request(request),
    )
    response = Response(TrustedKeySerializer(key).data, status=status.HTTP_201_CREATED)
    response["Location"] = f"{request.path.rstrip('/')}/{key.pk}"
    return response


def _deleted(request: Request, keys: QuerySet[TrustedKey], key_id: int) -> Response:
    key = keys.filter(pk=key_id).first()
    if key is None:
        raise not_found(f"trusted key {key_id} not found")
    services.delete_key(key=key, actor=Actor.of_request(request))
    return Response(status=status.HTTP_200_OK)


class ProjectKeysView(ProjectScopedView):
    serializer_class = TrustedKeySerializer
    required = {"GET": ("project", "read"), "POST": ("metadata", "create")}

    @extend_schema(operation_id="listProjectTrustedKeys", responses=TrustedKeySerializer(many=True))
    def get(self, request: Request, project_name_or_id: str) -> Response:
        keys = selectors.project_keys(self.project_access().project.pk)
        page = self.paginate_queryset(keys)
        return self.get_paginated_response(TrustedKeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="addProjectTrustedKey",
        request=TrustedKeySerializer,
        responses={201: TrustedKeySerializer},
    )
    def post(self, request: Request, project_name_or_id: str) -> Response:
        return _created(request, self.project_access().project)


class ProjectKeyView(ProjectScopedView):
    required = {"DELETE": ("metadata", "delete")}

    @extend_schema(operation_id="deleteProjectTrustedKey", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, key_id: int) -> Response:
        project = self.project_access().project
        return _deleted(request, selectors.project_keys(project.pk), key_id)


class SystemKeysView(GenericAPIView):
    serializer_class = TrustedKeySerializer
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="listSystemTrustedKeys", responses=TrustedKeySerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.system_keys())
        return self.get_paginated_response(TrustedKeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="addSystemTrustedKey",
        request=TrustedKeySerializer,
        responses={201: TrustedKeySerializer},
    )
    def post(self, request: Request) -> Response:
        return _created(request, None)


class SystemKeyView(GenericAPIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="deleteSystemTrustedKey", responses={200: None})
    def delete(self, request: Request, key_id: int) -> Response:
        return _deleted(request, selectors.system_keys(), key_id)


class ArtifactSignaturesView(GenericAPIView):
    serializer_class = SignatureSerializer

    @extend_schema(operation_id="listArtifactSignatures", responses=SignatureSerializer(many=True))
    def get(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        access = require_access_by_name(request.user, project_name, "accessory", "list")
        name = f"{project_name}/{unquote(repository_name)}"
        repository = registry_selectors.repository_in(access.project, name)
        artifact = registry_selectors.artifact_in(repository, reference)
        verdicts = services.checked(artifact, repository)
        return Response(SignatureSerializer(verdicts, many=True).data)
