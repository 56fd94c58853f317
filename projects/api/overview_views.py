"""GET /search, GET /statistics and GET /permissions."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.robots import caller_of
from harbor_py.api.params import require_authenticated
from harbor_py.api.serializers import PermissionSerializer
from harbor_py.core.errors import Code, DomainError, bad_request
from projects import overview, permissions
from projects.api.serializers import ProjectSerializer
from projects.models import ProjectMember
from projects.roles import Role
from projects.selectors import membership_filter, roles_by_project
from registry.models import Repository


class SearchRepositorySerializer(serializers.Serializer):
    project_id = serializers.IntegerField()
    project_name = serializers.CharField(source="project.name")
    project_public = serializers.BooleanField(source="project.public")
    repository_name = serializers.CharField(source="name")
    pull_count = serializers.IntegerField()
    artifact_count = serializers.IntegerField()


class SearchSerializer(serializers.Serializer):
    project = ProjectSerializer(many=True)
    repository = SearchRepositorySerializer(many=True)


class StatisticSerializer(serializers.Serializer):
    private_project_count = serializers.IntegerField()
    private_repo_count = serializers.IntegerField()
    public_project_count = serializers.IntegerField()
    public_repo_count = serializers.IntegerField()
    total_project_count = serializers.IntegerField()
    total_repo_count = serializers.IntegerField()
    total_storage_consumption = serializers.IntegerField()


class PermissionsSerializer(serializers.Serializer):
    system = PermissionSerializer(many=True, required=False)
    project = PermissionSerializer(many=True)


class SearchView(GenericAPIView):
    serializer_class = SearchSerializer
    pagination_class = None

    @extend_schema(operation_id="search", responses=SearchSerializer)
    def get(self, request: Request) -> Response:
        keyword = request.query_params.get("q")
        if not keyword:
            raise bad_request("q is required")
        projects = list(overview.search_projects(request.user, keyword))
        repositories: list[Repository] = list(overview.search_repositories(request.user, keyword))
        context = {"roles": roles_by_project(request.user, projects)}
        return Response(
            {
                "project": ProjectSerializer(projects, many=True, context=context).data,
                "repository": SearchRepositorySerializer(repositories, many=True).data,
            }
        )


class StatisticView(GenericAPIView):
    serializer_class = StatisticSerializer
    pagination_class = None

    @extend_schema(operation_id="getStatistic", responses=StatisticSerializer)
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        return Response(overview.statistics(caller_of(request)))


class PermissionsView(GenericAPIView):
    serializer_class = PermissionsSerializer
    pagination_class = None

    @extend_schema(operation_id="getPermissions", responses=PermissionsSerializer)
    def get(self, request: Request) -> Response:
        """For sysadmins (system and project permissions) and project admins (project)."""
        require_authenticated(request)
        user = caller_of(request)
        body = {"project": permissions.as_dicts(permissions.PROJECT_ROBOT_POLICIES)}
        if user.is_superuser:
            body["system"] = permissions.as_dicts(permissions.SYSTEM_ROBOT_POLICIES)
            return Response(body)
        admin_of = ProjectMember.objects.filter(membership_filter(user), role=Role.PROJECT_ADMIN)
        if not admin_of.exists():
            raise DomainError(Code.FORBIDDEN, "only system and project admins may read permissions")
        return Response(body)
