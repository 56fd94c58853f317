"""The member group: /projects/{id}/members and /projects/{id}/members/{mid}."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import ldap_tools
from accounts.models import User, UserGroup
from accounts.selectors import normalize_dn
from harbor_py.core import configuration
from harbor_py.core.errors import bad_request, not_found
from projects import selectors, services
from projects.api.base import ProjectScopedView
from projects.api.serializers import (
    ProjectMemberEntitySerializer,
    ProjectMemberReqSerializer,
    RoleRequestSerializer,
)
from projects.models import ProjectMember


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
        actor = request.user.username
        user = _find_user(data["member_user"], actor) if data.get("member_user") else None
        group = _find_group(data["member_group"], actor) if data.get("member_group") else None
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
            member=member, role=body.validated_data["role_id"], actor=request.user.username
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteProjectMember", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, mid: int) -> Response:
        services.delete_member(member=self.member(), actor=request.user.username)
        return Response(status=status.HTTP_200_OK)


def _ldap_auth() -> bool:
    return configuration.get("auth_mode") == "ldap_auth"


def _find_user(spec: dict[str, Any], actor: str) -> User:
    """Under LDAP a name that is no user yet is looked up and onboarded (Harbor)."""
    users = User.objects.filter(is_active=True)
    if spec.get("user_id"):
        user = users.filter(pk=spec["user_id"]).first()
    elif spec.get("username"):
        user = users.filter(username=spec["username"]).first()
        if user is None and _ldap_auth():
            user = ldap_tools.onboard_user(username=spec["username"], actor=actor)
    else:
        raise bad_request("member_user needs user_id or username")
    if user is None:
        raise not_found("user not found")
    return user


def _find_group(spec: dict[str, Any], actor: str) -> UserGroup:
    """Under LDAP a group DN that is no user group yet is looked up and onboarded (Harbor)."""
    groups = UserGroup.objects.order_by("pk")
    if spec.get("id"):
        group = groups.filter(pk=spec["id"]).first()
    elif spec.get("ldap_group_dn"):
        dn = normalize_dn(spec["ldap_group_dn"])
        group = groups.filter(group_type=UserGroup.GroupType.LDAP, ldap_group_dn=dn).first()
        if group is None and _ldap_auth():
            name = spec.get("group_name", "")
            group = ldap_tools.onboard_group(dn=spec["ldap_group_dn"], group_name=name, actor=actor)
    elif spec.get("group_name"):
        groups = groups.filter(group_name=spec["group_name"])
        if spec.get("group_type"):
            groups = groups.filter(group_type=spec["group_type"])
        group = groups.first()
    else:
        raise bad_request("member_group needs id, ldap_group_dn or group_name")
    if group is None:
        raise not_found("user group not found")
    return group
