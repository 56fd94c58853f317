from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.serializers import UserCreationSerializer, UserSerializer
from accounts.authentication import parse_basic
from accounts.grants import grant
from accounts.login import LoginThrottled, authenticate_credentials
from accounts.login_errors import LoginRefused
from accounts.models import User
from accounts.robots import RobotUser
from accounts.tokens import mint, parse_scopes
from harbor_py.api.errors import error_body
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import forbidden
from harbor_py.core.http import client_address


class UserListView(GenericAPIView):
    serializer_class = UserSerializer
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="listUsers", responses=UserSerializer(many=True))
    def get(self, request: Request) -> Response:
        params = request.query_params
        users = selectors.list_users(
            q=params.get("q"),
            sort=params.get("sort"),
            username=params.get("username"),
            email=params.get("email"),
        )
        page = self.paginate_queryset(users)
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    @extend_schema(operation_id="createUser", request=UserCreationSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        auth_mode = configuration.get("auth_mode")
        if auth_mode != "db_auth":
            raise forbidden(f"creating local user is not allowed under auth mode: {auth_mode}")
        body = UserCreationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = services.create_user(**body.validated_data, actor=Actor.of_request(request))
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/users/{user.pk}"
        return response


@csrf_exempt
def registry_token(request: HttpRequest) -> JsonResponse:
    """The Docker registry token endpoint (GET /service/token)."""
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            error_body("METHOD_NOT_ALLOWED", f"{request.method} is not allowed; use GET"),
            status=405,
        )
        response["Allow"] = "GET, HEAD"
        return response
    service = request.GET.get("service")
    if service and service != settings.HARBOR["TOKEN_SERVICE"]:
        return JsonResponse(error_body("BAD_REQUEST", f"unknown service {service}"), status=400)
    user: User | RobotUser | AnonymousUser = AnonymousUser()
    header = request.headers.get("Authorization", "")
    if header:
        pair = parse_basic(header)
        if pair is None:
            return JsonResponse(
                error_body("UNAUTHORIZED", "malformed basic credentials"), status=401
            )
        try:
            found = authenticate_credentials(*pair, address=client_address(request))
        except LoginThrottled as exc:
            return JsonResponse(error_body("TOO_MANY_REQUESTS", str(exc)), status=429)
        except LoginRefused as exc:
            return JsonResponse(error_body(exc.code, str(exc)), status=exc.status)
        if found is None:
            return JsonResponse(
                error_body("UNAUTHORIZED", "invalid username or password"), status=401
            )
        user = found
    scopes = grant(user, parse_scopes(request.GET.getlist("scope")))
    subject = user.username if user.is_authenticated else ""
    lifetime = configuration.get("token_expiration") * 60
    token, expires_in, issued_at = mint(subject, scopes, expires_in=lifetime)
    issued = dt.datetime.fromtimestamp(issued_at, tz=dt.UTC).isoformat()
    return JsonResponse(
        {"token": token, "access_token": token, "expires_in": expires_in, "issued_at": issued}
    )
