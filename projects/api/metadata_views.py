"""The projectMetadata group: /projects/{id}/metadatas/ and /metadatas/{meta_name}.

Harbor's role matrix gives no role `list` on metadata, which would leave the list to
sysadmins only although every value is readable one by one and in GET /projects/{id};
harbor-py lets whoever may read metadata list it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request
from projects import services
from projects.metadata import clean_api_pair
from projects.scoped_view import ProjectScopedView
from projects.selectors import project_metadata

STRING_MAP = OpenApiTypes.OBJECT  # a map of strings


class ProjectMetadataListView(ProjectScopedView):
    required = {"GET": ("metadata", "read"), "POST": ("metadata", "create")}

    @extend_schema(operation_id="listProjectMetadatas", responses=STRING_MAP)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        return Response(project_metadata(self.project_access().project))

    @extend_schema(operation_id="addProjectMetadatas", request=STRING_MAP, responses={200: None})
    def post(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        key, value = clean_api_pair(request.data)
        services.add_metadata(
            project=access.project, key=key, value=value, actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)


class ProjectMetadataDetailView(ProjectScopedView):
    required = {
        "GET": ("metadata", "read"),
        "PUT": ("metadata", "update"),
        "DELETE": ("metadata", "delete"),
    }

    @extend_schema(operation_id="getProjectMetadata", responses=STRING_MAP)
    def get(self, request: Request, project_name_or_id: str, meta_name: str) -> Response:
        """A key that is not set gives {} (Harbor)."""
        metadata = project_metadata(self.project_access().project)
        return Response({meta_name: metadata[meta_name]} if meta_name in metadata else {})

    @extend_schema(operation_id="updateProjectMetadata", request=STRING_MAP, responses={200: None})
    def put(self, request: Request, project_name_or_id: str, meta_name: str) -> Response:
        """The body holds the value under {meta_name}; other keys are ignored (Harbor).
        A key that is not yet set is set (Harbor would silently do nothing)."""
        access = self.project_access()
        if not isinstance(request.data, dict) or meta_name not in request.data:
            raise bad_request(f"the body must hold a value for {meta_name}")
        key, value = clean_api_pair({meta_name: request.data[meta_name]})
        services.set_metadata(
            project=access.project, key=key, value=value, actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProjectMetadata", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, meta_name: str) -> Response:
        access = self.project_access()
        services.delete_metadata(
            project=access.project, key=meta_name, actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)
