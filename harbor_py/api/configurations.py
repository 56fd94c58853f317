"""GET/PUT /api/v2.0/configurations (sysadmin only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.configuration_updates import update_configurations
from harbor_py.core import configuration
from harbor_py.core.actor import Actor


class ConfigurationsView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getConfigurations", responses={200: dict})
    def get(self, request: Request) -> Response:
        items = configuration.ITEMS
        return Response(
            {
                k: {"value": v, "editable": items[k].editable}
                for k, v in configuration.snapshot().items()
                if items[k].harbor  # Harbor's contract admits no other key
            }
        )

    @extend_schema(operation_id="updateConfigurations", request=dict, responses={200: None})
    def put(self, request: Request) -> Response:
        update_configurations(
            changes=request.data,
            actor=Actor.of_request(request),
        )
        return Response(status=200)


class InternalConfigView(APIView):
    """Harbor's internal component configuration; here the same settings, sysadmin only."""

    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getInternalconfig", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(
            {
                k: {"value": v, "editable": configuration.ITEMS[k].editable}
                for k, v in configuration.snapshot().items()
            }
        )
