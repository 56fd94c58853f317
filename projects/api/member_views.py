"""The member group: /projects/{id}/members and /projects/{id}/members/{mid}."""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found
from projects import member_lookup, selectors, services
from projects.api.serializers import (
    ProjectMemberEntitySerializer,
    ProjectMemberReqSerializer,
    RoleRequestSerializer,
)
from projects.models import ProjectMember
from projects.scoped_view import ProjectScopedView


class ProjectMemberListView(ProjectScopedView):
    serializer_class = ProjectMemberEntitySerializer
    required = {"GET": ("member", "list"), "POST": ("member", "create")}

    @extend_schema(
        operation_id="listProjectMembers", responses=ProjectMemberEntitySerializer(many=True)
    )
    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        members = selectors.project_members(access.project).order_by("pk")
        if entity := request.query_params.get("entityname"):
            members = members.filter(
                Q(user__username__icontains=entity) | Q(group__group_name__icontains=entity)
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
        actor = Actor.of_request(request)
        user = (
            member_lookup.find_user(data["member_user"], actor=actor)
            if data.get("member_user")
            else None
        )
        group = (
            member_lookup.find_group(data["member_group"], actor=actor)
            if data.get("member_group")
            else None
        )
        member = services.add_member(
            project=access.project,
            role=data["role_id"],
            user=user,
            group=group,
            actor=actor,
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{access.project.pk}/members/{member.pk}"
        return response


class ProjectMemberDetailView(ProjectScopedView):
    serializer_class = ProjectMemberEntitySerializer
    required = {
        "GET": ("member", "read"),
        "PUT": ("member", "update"),
        "DELETE": ("member", "delete"),
    }

    def member(self) -> ProjectMember:
        access = self.project_access()
        mid = self.kwargs["mid"]
        if mid <= 0:
            raise bad_request("the project member id is required")
        member = selectors.project_member(access.project, mid)
        if member is None:
            raise not_found(f"project member {mid} not found")
        return member

    @extend_schema(operation_id="getProjectMember", responses=ProjectMemberEntitySerializer)
    def get(self, request: Request, project_name_or_id: str, mid: int) -> Response:
        return Response(ProjectMemberEntitySerializer(self.member()).data)

    @extend_schema(
        operation_id="updateProjectMember", request=RoleRequestSerializer, responses={200: None}
    )
    def put(self, request: Request, project_name_or_id: str, mid: int) -> Response:
        member = self.member()
        body = RoleRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.update_member_role(
            member=member, role=body.validated_data["role_id"], actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProjectMember", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, mid: int) -> Response:
        services.delete_member(member=self.member(), actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)
