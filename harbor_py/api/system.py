"""Instance-level endpoints: health, systeminfo, ping, version."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py import configuration
from harbor_py.health import component_health


class HealthView(APIView):
    authentication_classes: list[type] = []

    @extend_schema(operation_id="getHealth", responses={200: dict})
    def get(self, request: Request) -> Response:
        components = component_health()
        healthy = all(c["status"] == "healthy" for c in components)
        return Response({"status": "healthy" if healthy else "unhealthy", "components": components})


class SystemInfoView(APIView):
    @extend_schema(operation_id="getSystemInfo", responses={200: dict})
    def get(self, request: Request) -> Response:
        config = settings.HARBOR
        info: dict[str, object] = {
            "auth_mode": configuration.get("auth_mode"),
            "primary_auth_mode": configuration.get("primary_auth_mode"),
            "self_registration": configuration.get("self_registration"),
            "harbor_version": config["VERSION"],
            "banner_message": configuration.get("banner_message"),
            "current_time": timezone.now().isoformat(),
        }
        if request.user.is_authenticated:
            host = config["EXTERNAL_URL"].split("://", 1)[-1]
            info.update(
                {
                    "registry_url": host,
                    "external_url": config["EXTERNAL_URL"],
                    "project_creation_restriction": configuration.get(
                        "project_creation_restriction"
                    ),
                    "has_ca_root": False,
                    "registry_storage_provider_name": "filesystem",
                    "read_only": configuration.get("read_only"),
                    "notification_enable": configuration.get("notification_enable"),
                }
            )
        return Response(info)


def ping(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Pong", content_type="text/plain")


def version(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"version": "v2.0"})
