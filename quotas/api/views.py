"""/quotas: every project's storage quota (sysadmins), one quota (also its project's
members), and changing a limit (sysadmins)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.api.params import require_authenticated
from harbor_py.api.permissions import IsSysadmin
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, not_found
from projects.selectors import project_access
from quotas import selectors, services
from quotas.api.serializers import QuotaSerializer, QuotaUpdateSerializer


class QuotaListView(GenericAPIView):
    serializer_class = QuotaSerializer
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="listQuotas",
        parameters=[OpenApiParameter("reference", str), OpenApiParameter("reference_id", str)],
        responses=QuotaSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        services.ensure_quotas()
        params = request.query_params
        quotas = selectors.list_quotas(
            reference=params.get("reference"),
            reference_id=params.get("reference_id"),
            sort=params.get("sort"),
        )
        page = self.paginate_queryset(quotas)
        return self.get_paginated_response(QuotaSerializer(page, many=True).data)


class QuotaDetailView(GenericAPIView):
    serializer_class = QuotaSerializer

    @extend_schema(operation_id="getQuota", responses=QuotaSerializer)
    def get(self, request: Request, quota_id: int) -> Response:
        require_authenticated(request)
        quota = selectors.find_quota(quota_id)
        if quota is None or not project_access(request.user, quota.project).can("quota", "read"):
            raise not_found(f"quota {quota_id} not found")
        return Response(QuotaSerializer(quota).data)

    @extend_schema(operation_id="updateQuota", request=QuotaUpdateSerializer, responses={200: None})
    def put(self, request: Request, quota_id: int) -> Response:
        require_authenticated(request)
        if not request.user.is_superuser:
            raise DomainError(Code.FORBIDDEN, "only system administrators may change quotas")
        quota = selectors.find_quota(quota_id)
        if quota is None:
            raise not_found(f"quota {quota_id} not found")
        body = QuotaUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.set_storage_limit(
            project=quota.project,
            hard=body.validated_data["hard"]["storage"],
            actor=Actor.of_request(request),
        )
        return Response(status=status.HTTP_200_OK)
