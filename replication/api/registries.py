"""/registries, /registries/ping, /registries/{id}/info and /replication/adapters."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import STRINGS, listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request
from harbor_py.core.query import Field
from replication import selectors, services
from replication.adapters.base import TransferError, adapter_type, adapter_types, open_adapter
from replication.api import serializers as shapes
from replication.api.listing import named_page
from replication.models import RegistryEndpoint

QUERY = {"name": Field("name"), "type": Field("type", fuzzy=False), "url": Field("url")}


class _Admin(APIView):
    permission_classes = [IsSysadmin]


class RegistriesView(_Admin):
    @listing("listRegistries")
    def get(self, request: Request) -> Response:
        return named_page(self, request, RegistryEndpoint.objects.all(), QUERY, shapes.registry)

    @extend_schema(operation_id="createRegistry", responses={201: None})
    def post(self, request: Request) -> Response:
        body = shapes.RegistryBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        credential = data.pop("credential", None) or {}
        data["access_key"] = credential.get("access_key", "")
        endpoint = services.create_registry(
            values=data,
            access_secret=credential.get("access_secret", ""),
            actor=Actor.of_request(request),
        )
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/registries/{endpoint.pk}"
        return response


def _update_values(data: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    values = {
        k: data[k]
        for k in ("name", "description", "url", "access_key", "insecure", "ca_certificate")
        if data.get(k) is not None
    }
    if "url" in values:
        values["url"] = values["url"].rstrip("/")
    secret = data.get("access_secret")
    return values, (None if secret in (None, shapes.MASK) else secret)


class RegistryView(_Admin):
    @extend_schema(operation_id="getRegistry", responses={200: dict})
    def get(self, request: Request, registry_id: int) -> Response:
        return Response(shapes.registry(selectors.endpoint(registry_id)))

    @extend_schema(operation_id="updateRegistry", responses={200: None})
    def put(self, request: Request, registry_id: int) -> Response:
        endpoint = selectors.endpoint(registry_id)
        body = shapes.RegistryUpdateBody(data=request.data)
        body.is_valid(raise_exception=True)
        values, secret = _update_values(body.validated_data)
        services.update_registry(
            endpoint=endpoint,
            values=values,
            access_secret=secret,
            actor=Actor.of_request(request),
        )
        return Response(status=200)

    @extend_schema(operation_id="deleteRegistry", responses={200: None})
    def delete(self, request: Request, registry_id: int) -> Response:
        services.delete_registry(
            endpoint=selectors.endpoint(registry_id),
            actor=Actor.of_request(request),
        )
        return Response(status=200)


class PingView(_Admin):
    @extend_schema(operation_id="pingRegistry", responses={200: None})
    def post(self, request: Request) -> Response:
        body = shapes.RegistryPingBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        endpoint = RegistryEndpoint(type=RegistryEndpoint.Type.HARBOR)
        if data.get("id"):
            endpoint = selectors.endpoint(data["id"])
        values, secret = _update_values(data)
        for key, value in values.items():
            setattr(endpoint, key, value)
        if data.get("type"):
            endpoint.type = data["type"]
        if secret is not None:
            endpoint.access_secret = secret
        if not endpoint.url:
            raise bad_request("the url of the registry is required")
        try:
            open_adapter(endpoint).ping()
        except TransferError as exc:
            raise DomainError(Code.BAD_REQUEST, f"failed to ping registry: {exc}") from None
        return Response(status=200)


FILTERS: list[dict[str, Any]] = [
    {"type": "name", "style": "input"},
    {"type": "tag", "style": "input"},
    {"type": "label", "style": "input"},
    {"type": "resource", "style": "radio", "values": ["image", "artifact"]},
]


class InfoView(_Admin):
    @extend_schema(operation_id="getRegistryInfo", responses={200: dict})
    def get(self, request: Request, registry_id: int) -> Response:
        endpoint = selectors.endpoint(registry_id)
        return Response(
            {
                "type": endpoint.type,
                "description": endpoint.description,
                "supported_resource_filters": [
                    f for f in FILTERS if f["type"] in adapter_type(endpoint.type).filters
                ],
                "supported_triggers": ["manual", "scheduled", "event_based"],
                "supported_copy_by_chunk": True,
            }
        )


class AdaptersView(_Admin):
    @listing("listRegistryProviderTypes", items=STRINGS, paged=False)
    def get(self, request: Request) -> Response:
        return Response([kind.name for kind in adapter_types()])


# Both adapters take any URL and a username/password, which Harbor calls the standard
# endpoint and credential patterns.
PROVIDER_INFO = {
    "endpoint_pattern": {"endpoint_type": "EndpointPatternTypeStandard", "endpoints": []},
    "credential_pattern": {
        "access_key_type": "AccessKeyTypeStandard",
        "access_key_data": "",
        "access_secret_type": "AccessSecretTypeStandard",
        "access_secret_data": "",
    },
}


class AdapterInfosView(_Admin):
    @extend_schema(operation_id="listRegistryProviderInfos", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({kind.name: PROVIDER_INFO for kind in adapter_types()})
