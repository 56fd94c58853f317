"""The Ldap group: /ldap/ping, /ldap/users/search, /ldap/users/import, /ldap/groups/search.
Sysadmins only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import ldap_tools
from accounts.api.serializers import (
    LdapConfSerializer,
    LdapFailedImportUserSerializer,
    LdapGroupSerializer,
    LdapImportUsersSerializer,
    LdapPingResultSerializer,
    LdapUserSerializer,
)
from accounts.ldap_settings import SettingsError, with_overrides
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request


class LdapPingView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="pingLdap",
        tags=["Ldap"],
        request=LdapConfSerializer,
        responses=LdapPingResultSerializer,
    )
    def post(self, request: Request) -> Response:
        """Tests the settings in the body over the saved ones; the result says which step
        (connect, bind, search) failed."""
        body = LdapConfSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        try:
            config = with_overrides(ldap_tools.saved_settings(), dict(body.validated_data))
        except SettingsError as exc:
            raise bad_request(str(exc)) from None
        result = ldap_tools.ping(config)
        return Response({"success": result.success, "message": result.message})


class LdapUserSearchView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="searchLdapUser",
        tags=["Ldap"],
        parameters=[OpenApiParameter("username", str)],
        responses=LdapUserSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        users = ldap_tools.search_users(request.query_params.get("username", "").strip())
        return Response(LdapUserSerializer(users, many=True).data)


class LdapUserImportView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="importLdapUser",
        tags=["Ldap"],
        request=LdapImportUsersSerializer,
        responses={
            200: None,
            404: OpenApiResponse(LdapFailedImportUserSerializer(many=True), "failed imports"),
        },
    )
    def post(self, request: Request) -> Response:
        """Onboards the listed users; 404 with the ones that failed (the others stay
        imported), as Harbor."""
        body = LdapImportUsersSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        uids = body.validated_data["ldap_uid_list"]
        if not uids:
            raise bad_request("ldap_uid_list is empty")
        failed = ldap_tools.import_users(uids=uids, actor=Actor.of_request(request))
        if failed:
            return Response(
                LdapFailedImportUserSerializer(failed, many=True).data,
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response(status=status.HTTP_200_OK)


class LdapGroupSearchView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="searchLdapGroup",
        tags=["Ldap"],
        parameters=[OpenApiParameter("groupname", str), OpenApiParameter("groupdn", str)],
        responses=LdapGroupSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        groups = ldap_tools.search_groups(
            name=request.query_params.get("groupname", "").strip(),
            dn=request.query_params.get("groupdn", "").strip(),
        )
        return Response(LdapGroupSerializer(groups, many=True).data)
