"""The user group beyond list and create: /users/current, /users/search, /users/{user_id}."""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.oidc_views import oidc_user_meta
from accounts.api.serializers import (
    PasswordReqSerializer,
    UserProfileSerializer,
    UserSearchRespItemSerializer,
    UserSerializer,
    UserSysAdminFlagSerializer,
)
from accounts.authentication import CsrfSessionAuthentication
from accounts.models import User
from accounts.robots import person_of
from harbor_py.api.params import (
    bool_param,
    require_authenticated,
    require_user,
    validated_body,
)
from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.serializers import PermissionSerializer
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, forbidden, not_found
from projects.permissions import current_permissions


def _target(user_id: int) -> User:
    user = selectors.find_user(user_id)
    if user is None:
        raise not_found(f"user {user_id} not found")
    return user


def readable_user(request: Request, user_id: int) -> User:
    """Sysadmins read anyone, others themselves only (checked before existence)."""
    require_authenticated(request)
    if not request.user.is_superuser and request.user.pk != user_id:
        raise forbidden(f"Not authorized to read user: {user_id}")
    return _target(user_id)


class CurrentUserView(GenericAPIView):
    serializer_class = UserSerializer
    pagination_class = None

    @extend_schema(operation_id="getCurrentUserInfo", responses=UserSerializer)
    def get(self, request: Request) -> Response:
        require_user(request)
        data = UserSerializer(request.user).data
        if meta := oidc_user_meta(person_of(request), with_secret=True):
            data["oidc_user_meta"] = meta
        return Response(data)


class CurrentUserPermissionsView(GenericAPIView):
    serializer_class = PermissionSerializer
    pagination_class = None

    @extend_schema(
        operation_id="getCurrentUserPermissions",
        parameters=[
            OpenApiParameter("scope", str, description="/system or /project/{project_id}"),
            OpenApiParameter("relative", bool),
        ],
        responses=PermissionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        scope = request.query_params.get("scope", "")
        relative = bool(bool_param(request, "relative", default=False))
        return Response(current_permissions(request.user, scope, relative=relative))


class UserSearchView(GenericAPIView):
    serializer_class = UserSearchRespItemSerializer

    @extend_schema(
        operation_id="searchUsers",
        parameters=[OpenApiParameter("username", str, required=True)],
        responses=UserSearchRespItemSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        username = request.query_params.get("username")
        if not username:
            raise bad_request("username is required")
        page = self.paginate_queryset(selectors.search_users(username))
        return self.get_paginated_response(UserSearchRespItemSerializer(page, many=True).data)


class UserDetailView(GenericAPIView):
    serializer_class = UserSerializer

    @extend_schema(operation_id="getUser", responses=UserSerializer)
    def get(self, request: Request, user_id: int) -> Response:
        user = readable_user(request, user_id)
        data = UserSerializer(user).data
        if meta := oidc_user_meta(user, with_secret=request.user.pk == user_id):
            data["oidc_user_meta"] = meta
        return Response(data)

    @extend_schema(
        operation_id="updateUserProfile", request=UserProfileSerializer, responses={200: None}
    )
    def put(self, request: Request, user_id: int) -> Response:
        user = selectors.modifiable_user(request.user, user_id)
        profile = validated_body(UserProfileSerializer, request)
        services.update_profile(user=user, **profile, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="deleteUser", responses={200: None})
    def delete(self, request: Request, user_id: int) -> Response:
        require_authenticated(request)
        if not request.user.is_superuser:
            raise forbidden("Not authorized to delete users")
        services.delete_user(user=_target(user_id), actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)


class UserSysAdminView(GenericAPIView):
    serializer_class = UserSysAdminFlagSerializer
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="setUserSysAdmin", request=UserSysAdminFlagSerializer, responses={200: None}
    )
    def put(self, request: Request, user_id: int) -> Response:
        user = _target(user_id)
        sysadmin = validated_body(UserSysAdminFlagSerializer, request)["sysadmin_flag"]
        services.set_sysadmin(user=user, sysadmin=sysadmin, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)


class UserPasswordView(GenericAPIView):
    serializer_class = PasswordReqSerializer

    @extend_schema(
        operation_id="updateUserPassword", request=PasswordReqSerializer, responses={200: None}
    )
    def put(self, request: Request, user_id: int) -> Response:
        """Changing one's own password needs the current one, sysadmins included."""
        user = selectors.modifiable_user(request.user, user_id)
        data = validated_body(PasswordReqSerializer, request)
        if user.pk == request.user.pk and not user.check_password(data["old_password"]):
            raise DomainError(
                Code.FORBIDDEN, "Current password is incorrect", key="user.password_wrong"
            )
        services.change_password(
            user=user, new_password=data["new_password"], actor=Actor.of_request(request)
        )
        if user.pk == request.user.pk and isinstance(
            request.successful_authenticator, CsrfSessionAuthentication
        ):
            update_session_auth_hash(request._request, user)  # keep this UI session signed in
        return Response(status=status.HTTP_200_OK)
