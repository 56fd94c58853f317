from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User, UserGroup
from harbor_py import configuration
from harbor_py.api.errors import HarborError, bad_request, not_found
from projects import services
from projects.api.base import ProjectScopedView
from projects.api.serializers import (
    ProjectMemberEntitySerializer,
    ProjectMemberReqSerializer,
    ProjectReqSerializer,
    ProjectSerializer,
)
from projects.models import Project
from projects.selectors import project_members, roles_by_project, visible_projects


def _bool_param(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise bad_request(f"{name} must be true or false")


class ProjectListView(GenericAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self) -> QuerySet[Project]:
        projects = visible_projects(self.request.user).annotate(repo_count=Count("repositories"))
        params = self.request.query_params
        if name := params.get("name"):
            projects = projects.filter(name__icontains=name)
        if (public := _bool_param(self.request, "public")) is not None:
            projects = projects.filter(public=public)
        if owner := params.get("owner"):
            projects = projects.filter(owner__username=owner)
        return projects.order_by("name")

    @extend_schema(operation_id="listProjects", responses=ProjectSerializer(many=True))
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        context = {"roles": roles_by_project(request.user, page)}
        return self.get_paginated_response(ProjectSerializer(page, many=True, context=context).data)

    @extend_schema(operation_id="headProject", responses={200: None})
    def head(self, request: Request) -> Response:
        name = request.query_params.get("project_name")
        if not name:
            raise bad_request("project_name is required")
        # Only projects the caller may see exist, as for GET (Harbor checks project read).
        if not visible_projects(request.user).filter(name=name).exists():
            raise not_found(f"project {name} not found")
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="createProject", request=ProjectReqSerializer, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise HarborError(401, "authentication required")
        restriction = configuration.get("project_creation_restriction")
        if restriction == "adminonly" and not request.user.is_superuser:
            raise HarborError(403, "only system administrators may create projects")
        body = ProjectReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        metadata = dict(data.get("metadata") or {})
        public = metadata.pop("public", None)
        is_public = public == "true" if public is not None else bool(data.get("public"))
        project = services.create_project(
            owner=request.user, name=data["project_name"], public=is_public, metadata=metadata
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{project.pk}"
        return response


class ProjectDetailView(ProjectScopedView):
    serializer_class = ProjectSerializer
    required = {"GET": ("project", "read")}

    @extend_schema(operation_id="getProject", responses=ProjectSerializer)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        project = (
            Project.objects.select_related("owner")
            .annotate(repo_count=Count("repositories"))
            .get(pk=access.project.pk)
        )
        context = {"roles": {project.pk: access.roles}}
        return Response(ProjectSerializer(project, context=context).data)


class ProjectMemberListView(ProjectScopedView):
    serializer_class = ProjectMemberEntitySerializer
    required = {"GET": ("member", "list"), "POST": ("member", "create")}

    @extend_schema(
        operation_id="listProjectMembers", responses=ProjectMemberEntitySerializer(many=True)
    )
    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        members = project_members(access.project).order_by("pk")
        if entity := request.query_params.get("entityname"):
            members = members.filter(user__username__icontains=entity) | members.filter(
                group__group_name__icontains=entity
            )
        page = self.paginate_queryset(members)
        return self.get_paginated_response(ProjectMemberEntitySerializer(page, many=True).data)

    @extend_schema(
        operation_id="createProjectMember",
        request=ProjectMemberReqSerializer,
        responses={201: None},
    )
    def post(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        body = ProjectMemberReqSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = _find_user(data.get("member_user")) if data.get("member_user") else None
        group = _find_group(data.get("member_group")) if data.get("member_group") else None
        member = services.add_member(
            project=access.project,
            role=data["role_id"],
            user=user,
            group=group,
            actor=request.user.username,
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{access.project.pk}/members/{member.pk}"
        return response


def _find_user(spec: dict[str, Any]) -> User:
    users = User.objects.filter(is_active=True)
    if spec.get("user_id"):
        user = users.filter(pk=spec["user_id"]).first()
    elif spec.get("username"):
        user = users.filter(username=spec["username"]).first()
    else:
        raise bad_request("member_user needs user_id or username")
    if user is None:
        raise not_found("user not found")
    return user


def _find_group(spec: dict[str, Any]) -> UserGroup:
    if spec.get("id"):
        group = UserGroup.objects.filter(pk=spec["id"]).first()
    elif spec.get("ldap_group_dn"):
        group = UserGroup.objects.filter(ldap_group_dn=spec["ldap_group_dn"]).first()
    else:
        raise bad_request("member_group needs id or ldap_group_dn")
    if group is None:
        raise not_found("user group not found")
    return group
