"""The project group: /projects, /projects/{id}, its _deletable and summary."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.robots import person_of
from harbor_py.api.params import bool_param, require_user
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from projects import allowlist_hook, selectors, services
from projects.api.serializers import (
    ProjectDeletableSerializer,
    ProjectReqSerializer,
    ProjectSerializer,
    ProjectSummarySerializer,
    ProjectUpdateSerializer,
)
from projects.roles import Role
from projects.scoped_view import ProjectScopedView
from quotas import services as quota_services
from quotas.selectors import summary_quota

SUMMARY_FIELDS = {
    Role.PROJECT_ADMIN: "project_admin_count",
    Role.MAINTAINER: "maintainer_count",
    Role.DEVELOPER: "developer_count",
    Role.GUEST: "guest_count",
    Role.LIMITED_GUEST: "limited_guest_count",
}


class ProjectListView(GenericAPIView):
    serializer_class = ProjectSerializer

    @extend_schema(operation_id="listProjects", responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        params = request.query_params
        projects = selectors.list_projects(
            request.user,
            q=params.get("q"),
            sort=params.get("sort"),
            name=params.get("name"),
            public=bool_param(request, "public"),
            owner=params.get("owner"),
        )
        detail = bool_param(request, "with_detail", default=True)
        page = self.paginate_queryset(projects) or []
        context = {"roles": selectors.roles_by_project(request.user, page), "detail": detail}
        return self.get_paginated_response(ProjectSerializer(page, many=True, context=context).data)

    @extend_schema(operation_id="headProject", responses={200: None})
    def head(self, request: Request) -> Response:
        name = request.query_params.get("project_name")
        if not name:
            raise bad_request("project_name is required")
        # Only projects the caller may see exist, as for GET (Harbor checks project read).
        if not selectors.visible_projects(request.user).filter(name=name).exists():
            raise not_found(f"project {name} not found")
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="createProject", request=ProjectReqSerializer, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        require_user(request)
        if not selectors.may_create_projects(request.user):
            raise DomainError(Code.FORBIDDEN, "only system administrators may create projects")
        body = ProjectReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        metadata = dict(data.get("metadata") or {})
        if metadata.pop("retention_id", ""):
            raise bad_request(
                "the retention_id in the request's payload when creating a project should be "
                "omitted, alternatively passing an empty string"
            )
        public = metadata.pop("public", None)
        is_public = public == "true" if public is not None else bool(data.get("public"))
        project = services.create_project(
            owner=person_of(request),
            actor=Actor.of_request(request),
            name=data["project_name"],
            public=is_public,
            metadata=metadata,
            storage_limit=data.get("storage_limit"),
            registry_id=data.get("registry_id") or None,
        )
        if data.get("cve_allowlist") is not None:
            allowlist_hook.write(project, data["cve_allowlist"], Actor.of_request(request))
        response = Response(status=status.HTTP_201_CREATED)
        in_location = request.headers.get("X-Resource-Name-In-Location", "").lower() == "true"
        key = project.name if in_location else project.pk
        response["Location"] = f"/api/v2.0/projects/{key}"
        return response


class ProjectDetailView(ProjectScopedView):
    serializer_class = ProjectSerializer
    required = {
        "GET": ("project", "read"),
        "PUT": ("project", "update"),
        "DELETE": ("project", "delete"),
    }

    @extend_schema(operation_id="getProject", responses=ProjectSerializer)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        project = selectors.project_with_details(access.project)
        context = {"roles": {project.pk: access.roles}, "with_allowlist": True}
        return Response(ProjectSerializer(project, context=context).data)

    @extend_schema(
        operation_id="updateProject", request=ProjectUpdateSerializer, responses={200: None}
    )
    def put(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        body = ProjectUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = Actor.of_request(request)
        services.update_project(
            project=access.project,
            metadata=body.validated_data.get("metadata") or {},
            actor=actor,
        )
        if body.validated_data.get("cve_allowlist") is not None:
            allowlist_hook.write(access.project, body.validated_data["cve_allowlist"], actor)
        limit = body.validated_data.get("storage_limit")
        if limit is not None and request.user.is_superuser:
            quota_services.set_storage_limit(project=access.project, hard=limit, actor=actor)
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProject", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        services.delete_project(project=access.project, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)


class ProjectDeletableView(ProjectScopedView):
    serializer_class = ProjectDeletableSerializer
    required = {"GET": ("project", "delete")}

    @extend_schema(operation_id="getProjectDeletable", responses=ProjectDeletableSerializer)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        deletable, message = selectors.deletable(access.project)
        body: dict[str, object] = {"deletable": deletable}
        if message:
            body["message"] = message
        return Response(body)


class ProjectSummaryView(ProjectScopedView):
    serializer_class = ProjectSummarySerializer
    required = {"GET": ("project", "read")}

    @extend_schema(operation_id="getProjectSummary", responses=ProjectSummarySerializer)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        """Member counts for those who may list members, and the quota for those who may
        read it, as Harbor; `registry` belongs to proxy cache projects only."""
        access = self.project_access()
        body: dict[str, object] = {"repo_count": selectors.repository_count(access.project)}
        if access.can("member", "list"):
            counts = selectors.member_counts(access.project)
            body.update({field: counts[role] for role, field in SUMMARY_FIELDS.items()})
        if access.can("quota", "read"):
            body["quota"] = summary_quota(quota_services.quota_of(access.project))
        return Response(body)
