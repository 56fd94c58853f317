"""Harbor's repository group: /repositories and /projects/{project_name}/repositories."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.api.params import validated_body
from harbor_py.core.actor import Actor
from projects.selectors import visible_projects
from registry import deletion, queries, selectors, services
from registry.api.base import full_name, require_by_name
from registry.api.serializers import RepositorySerializer, RepositoryUpdateSerializer
from registry.models import Repository


class AllRepositoriesView(GenericAPIView):
    serializer_class = RepositorySerializer

    @extend_schema(operation_id="listAllRepositories", responses=RepositorySerializer(many=True))
    def get(self, request: Request) -> Response:
        repositories = Repository.objects.all()
        if not (request.user.is_authenticated and request.user.is_superuser):
            visible = visible_projects(request.user).values("pk")
            repositories = repositories.filter(project_id__in=visible)
        params = request.query_params
        repositories = queries.apply(
            repositories, params.get("q"), params.get("sort"), queries.REPOSITORIES
        )
        page = selectors.count_artifacts(self.paginate_queryset(repositories) or [])
        return self.get_paginated_response(RepositorySerializer(page, many=True).data)


class RepositoriesView(GenericAPIView):
    serializer_class = RepositorySerializer

    @extend_schema(operation_id="listRepositories", responses=RepositorySerializer(many=True))
    def get(self, request: Request, project_name: str) -> Response:
        access = require_by_name(request, project_name, "repository", "list")
        params = request.query_params
        repositories = queries.apply(
            Repository.objects.filter(project=access.project),
            params.get("q"),
            params.get("sort"),
            queries.REPOSITORIES,
        )
        page = selectors.count_artifacts(self.paginate_queryset(repositories) or [])
        return self.get_paginated_response(RepositorySerializer(page, many=True).data)


class RepositoryView(GenericAPIView):
    serializer_class = RepositorySerializer

    @extend_schema(operation_id="getRepository", responses=RepositorySerializer)
    def get(self, request: Request, project_name: str, repository_name: str) -> Response:
        repository = self._repository("list")
        counted = selectors.repositories_with_counts().get(pk=repository.pk)
        return Response(RepositorySerializer(counted).data)

    @extend_schema(
        operation_id="updateRepository",
        request=RepositoryUpdateSerializer,
        responses={200: None},
    )
    def put(self, request: Request, project_name: str, repository_name: str) -> Response:
        repository = self._repository("update")
        description = validated_body(RepositoryUpdateSerializer, request)["description"]
        services.update_repository(
            repository=repository, description=description, actor=Actor.of_request(request)
        )
        return Response(status=200)

    @extend_schema(operation_id="deleteRepository", responses={200: None})
    def delete(self, request: Request, project_name: str, repository_name: str) -> Response:
        deletion.delete_repository(
            repository=self._repository("delete"),
            actor=Actor.of_request(request),
        )
        return Response(status=200)

    def _repository(self, action: str) -> Repository:
        project = self.kwargs["project_name"]
        access = require_by_name(self.request, project, "repository", action)
        return selectors.repository_in(
            access.project, full_name(project, self.kwargs["repository_name"])
        )
