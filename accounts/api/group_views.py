"""The usergroup group: /usergroups, /usergroups/search, /usergroups/{group_id}."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import group_services, ldap_tools, selectors
from accounts.api.serializers import UserGroupSearchItemSerializer, UserGroupSerializer
from accounts.models import UserGroup
from harbor_py.api.params import require_authenticated, validated_body
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found


class UserGroupListView(GenericAPIView):
    serializer_class = UserGroupSerializer
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="listUserGroups",
        parameters=[OpenApiParameter("group_name", str), OpenApiParameter("ldap_group_dn", str)],
        responses=UserGroupSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        groups = selectors.list_groups(
            group_name=request.query_params.get("group_name"),
            ldap_group_dn=request.query_params.get("ldap_group_dn"),
            ldap_only=configuration.get("auth_mode") == "ldap_auth",
        )
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(UserGroupSerializer(page, many=True).data)

    @extend_schema(
        operation_id="createUserGroup", request=UserGroupSerializer, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        body = UserGroupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["group_type"] is None:
            raise bad_request("group_type is required: 1 (LDAP), 2 (HTTP) or 3 (OIDC)")
        name = data["group_name"]
        if (
            data["group_type"] == UserGroup.GroupType.LDAP
            and data["ldap_group_dn"].strip()
            and configuration.get("auth_mode") == "ldap_auth"
        ):
            _, name = ldap_tools.confirm_group(dn=data["ldap_group_dn"], group_name=name)
        group = group_services.create_group(
            group_name=name,
            group_type=data["group_type"],
            ldap_group_dn=data["ldap_group_dn"],
            actor=Actor.of_request(request),
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/usergroups/{group.pk}"
        return response


class UserGroupSearchView(GenericAPIView):
    serializer_class = UserGroupSearchItemSerializer

    @extend_schema(
        operation_id="searchUserGroups",
        parameters=[OpenApiParameter("groupname", str, required=True)],
        responses=UserGroupSearchItemSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        name = request.query_params.get("groupname")
        if not name:
            raise bad_request("need to provide groupname to search user group")
        page = self.paginate_queryset(selectors.search_groups(name))
        return self.get_paginated_response(UserGroupSearchItemSerializer(page, many=True).data)


class UserGroupDetailView(GenericAPIView):
    serializer_class = UserGroupSerializer
    permission_classes = [IsSysadmin]

    def group(self, group_id: int) -> UserGroup:
        if group_id <= 0:
            raise bad_request("the group id should be provided")
        group = selectors.find_group(group_id)
        if group is None:
            raise not_found(f"the user group with id {group_id} is not found")
        return group

    @extend_schema(operation_id="getUserGroup", responses=UserGroupSerializer)
    def get(self, request: Request, group_id: int) -> Response:
        return Response(UserGroupSerializer(self.group(group_id)).data)

    @extend_schema(
        operation_id="updateUserGroup", request=UserGroupSerializer, responses={200: None}
    )
    def put(self, request: Request, group_id: int) -> Response:
        group = self.group(group_id)
        group_name = validated_body(UserGroupSerializer, request)["group_name"]
        group_services.rename_group(
            group=group, group_name=group_name, actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteUserGroup", responses={200: None})
    def delete(self, request: Request, group_id: int) -> Response:
        """Deleting a group that does not exist succeeds, as in Harbor (no 404 declared)."""
        if group_id <= 0:
            raise bad_request("the group id should be provided")
        group = selectors.find_group(group_id)
        if group is not None:
            group_services.delete_group(group=group, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)
