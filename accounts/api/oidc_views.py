"""OIDC endpoints: POST /system/oidc/ping and PUT /users/{user_id}/cli_secret."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import oidc_provider, oidc_services, selectors
from accounts.models import OIDCUserInfo, User
from harbor_py.api.params import require_user, validated_body
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, forbidden, not_found, precondition


class OidcPingSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048)
    verify_cert = serializers.BooleanField(required=False, default=True)


class CliSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(max_length=1024, allow_blank=True, trim_whitespace=False)


class OidcPingView(GenericAPIView):
    serializer_class = OidcPingSerializer
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="pingOIDC", tags=["oidc"], responses={200: None})
    def post(self, request: Request) -> Response:
        """The discovery document at the URL (its issuer the URL) and its keys."""
        body = validated_body(OidcPingSerializer, request)
        try:
            oidc_provider.ping(body["url"], verify=body["verify_cert"])
        except oidc_provider.ProviderError as exc:
            raise bad_request(f"failed to verify connection: {exc}") from None
        return Response(status=status.HTTP_200_OK)


class CliSecretView(GenericAPIView):
    serializer_class = CliSecretSerializer

    @extend_schema(operation_id="setCliSecret", tags=["user"], responses={200: None})
    def put(self, request: Request, user_id: int) -> Response:
        """Harbor's rules: the user or a sysadmin, under oidc_auth, for OIDC users."""
        require_user(request)
        caller = request.user
        if not caller.is_superuser and caller.pk != user_id:
            raise forbidden(
                f"the CLI secret of user {user_id} cannot be changed by you",
                key="oidc.cli_secret_forbidden",
            )
        user = selectors.find_user(user_id)
        if user is None:
            raise not_found(f"user {user_id} not found")
        if configuration.get("auth_mode") != "oidc_auth":
            raise precondition(
                "the CLI secret can only be set under auth mode oidc_auth",
                key="oidc.cli_secret_mode",
            )
        secret = validated_body(CliSecretSerializer, request)["secret"]
        oidc_services.set_cli_secret(user=user, secret=secret, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)


def oidc_user_meta(user: User, *, with_secret: bool) -> dict[str, object] | None:
    """Harbor's OIDCUserInfo of a user onboarded via OIDC (the secret only for its owner)."""
    info = OIDCUserInfo.objects.filter(user_id=user.pk).first()
    if info is None:
        return None
    meta: dict[str, object] = {
        "id": info.pk,
        "user_id": user.pk,
        "subiss": info.subiss,
        "creation_time": info.creation_time.isoformat(),
        "update_time": info.update_time.isoformat(),
    }
    if with_secret:
        meta["secret"] = oidc_services.cli_secret(info)
    return meta
