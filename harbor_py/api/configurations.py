"""GET/PUT /api/v2.0/configurations (sysadmin only)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import record
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core import configuration
from harbor_py.core.errors import bad_request
from harbor_py.core.http import client_address


def _non_admin_users_exist() -> bool:
    from accounts.models import User

    return User.objects.filter(is_superuser=False).exclude(username="admin").exists()


@transaction.atomic
def update_configurations(*, changes: object, actor: str, client_address: str = "") -> None:
    valid = configuration.validate(changes)
    new_mode = valid.get("auth_mode")
    if new_mode and new_mode != configuration.get("auth_mode") and _non_admin_users_exist():
        raise bad_request(
            "the authentication mode cannot be changed once users other than admin exist"
        )
    configuration.store(valid)
    shown = ", ".join(
        f"{k}=***" if configuration.ITEMS[k].secret else f"{k}={v}"
        for k, v in sorted(valid.items())
    )
    record(
        username=actor,
        operation="update",
        resource_type="configuration",
        resource="configurations",
        description=shown,
        client_address=client_address,
    )


class ConfigurationsView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getConfigurations", responses={200: dict})
    def get(self, request: Request) -> Response:
        editable = {k: item.editable for k, item in configuration.ITEMS.items()}
        return Response(
            {k: {"value": v, "editable": editable[k]} for k, v in configuration.snapshot().items()}
        )

    @extend_schema(operation_id="updateConfigurations", request=dict, responses={200: None})
    def put(self, request: Request) -> Response:
        update_configurations(
            changes=request.data,
            actor=request.user.username,
            client_address=client_address(request),
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
