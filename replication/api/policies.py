"""/replication/policies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request
from harbor_py.core.query import Field
from replication import filters, selectors, services
from replication.api import serializers as shapes
from replication.api.listing import named_page
from replication.models import RegistryEndpoint, ReplicationPolicy

QUERY = {"name": Field("name")}


def _endpoint(ref: dict[str, Any] | None) -> RegistryEndpoint | None:
    if not ref or not ref.get("id"):
        return None
    return selectors.endpoint(ref["id"])


def _values(request: Request) -> dict[str, Any]:
    body = shapes.PolicyBody(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    trigger = data.get("trigger") or {"type": "manual", "trigger_settings": {}}
    try:
        checked_filters = filters.check(data["filters"])
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return {
        "name": data["name"],
        "description": data["description"],
        "src_registry": _endpoint(data.get("src_registry")),
        "dest_registry": _endpoint(data.get("dest_registry")),
        "dest_namespace": data["dest_namespace"],
        "dest_namespace_replace_count": data["dest_namespace_replace_count"],
        "filters": checked_filters,
        "trigger_type": trigger["type"],
        "cron": str((trigger.get("trigger_settings") or {}).get("cron") or ""),
        "replicate_deletion": data["replicate_deletion"] or data["deletion"],
        "override": data["override"],
        "enabled": data["enabled"],
        "speed": data["speed"] or 0,
        "copy_by_chunk": bool(data["copy_by_chunk"]),
        "single_active_replication": bool(data["single_active_replication"]),
    }


class PoliciesView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listReplicationPolicies")
    def get(self, request: Request) -> Response:
        policies = ReplicationPolicy.objects.select_related("src_registry", "dest_registry")
        return named_page(self, request, policies, QUERY, shapes.policy)

    @extend_schema(operation_id="createReplicationPolicy", responses={201: None})
    def post(self, request: Request) -> Response:
        policy = services.create_policy(
            values=_values(request),
            actor=Actor.of_request(request),
        )
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/replication/policies/{policy.pk}"
        return response


class PolicyView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getReplicationPolicy", responses={200: dict})
    def get(self, request: Request, policy_id: int) -> Response:
        return Response(shapes.policy(selectors.policy(policy_id)))

    @extend_schema(operation_id="updateReplicationPolicy", responses={200: None})
    def put(self, request: Request, policy_id: int) -> Response:
        services.update_policy(
            policy=selectors.policy(policy_id),
            values=_values(request),
            actor=Actor.of_request(request),
        )
        return Response(status=200)

    @extend_schema(operation_id="deleteReplicationPolicy", responses={200: None})
    def delete(self, request: Request, policy_id: int) -> Response:
        services.delete_policy(
            policy=selectors.policy(policy_id),
            actor=Actor.of_request(request),
        )
        return Response(status=200)
