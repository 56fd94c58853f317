"""Instance-level endpoints: health, systeminfo (+ volumes, getcert), ping, version."""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.core import configuration
from harbor_py.core.errors import not_found
from harbor_py.health import component_health


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return str(data).encode()


class HealthView(APIView):
    authentication_classes: list[type] = []

    @extend_schema(operation_id="getHealth", responses={200: dict})
    def get(self, request: Request) -> Response:
        components = component_health()
        healthy = all(c["status"] == "healthy" for c in components)
        return Response({"status": "healthy" if healthy else "unhealthy", "components": components})


class PingView(APIView):
    authentication_classes: list[type] = []
    renderer_classes = [PlainTextRenderer]

    @extend_schema(operation_id="getPing", responses={200: OpenApiResponse(description="Pong")})
    def get(self, request: Request) -> Response:
        return Response("Pong")


class SystemInfoView(APIView):
    @extend_schema(operation_id="getSystemInfo", responses={200: dict})
    def get(self, request: Request) -> Response:
        external_url = settings.HARBOR["EXTERNAL_URL"]
        info: dict[str, object] = {
            "auth_mode": configuration.get("auth_mode"),
            "primary_auth_mode": configuration.get("primary_auth_mode"),
            "self_registration": configuration.get("self_registration"),
            "harbor_version": settings.HARBOR["VERSION"],
            "banner_message": configuration.get("banner_message"),
            "current_time": timezone.now().isoformat(),
        }
        if info["auth_mode"] == "oidc_auth":
            info["oidc_provider_name"] = configuration.get("oidc_name")
        if request.user.is_authenticated:
            info.update(
                {
                    "registry_url": external_url.split("://", 1)[-1],
                    "external_url": external_url,
                    "project_creation_restriction": configuration.get(
                        "project_creation_restriction"
                    ),
                    "has_ca_root": False,
                    "registry_storage_provider_name": settings.HARBOR["STORAGE"],
                    "read_only": configuration.get("read_only"),
                    "notification_enable": configuration.get("notification_enable"),
                }
            )
        return Response(info)


class VolumesView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getVolumes", responses={200: dict})
    def get(self, request: Request) -> Response:
        path = settings.RUNTIME.storage_dir
        while not path.exists() and path != path.parent:
            path = path.parent
        usage = shutil.disk_usage(path)
        return Response({"storage": [{"total": usage.total, "free": usage.free}]})


class CertView(APIView):
    @extend_schema(operation_id="getCert", responses={200: OpenApiResponse(description="CA")})
    def get(self, request: Request) -> Response:
        # harbor-py serves plain HTTP behind the operator's TLS terminator: no CA of its own.
        raise not_found("no default root certificate: TLS is terminated outside harbor-py")


class VersionView(APIView):
    authentication_classes: list[type] = []

    @extend_schema(operation_id="getVersion", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"version": "v2.0"})
