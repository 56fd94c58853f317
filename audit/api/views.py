from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from audit import selectors
from audit.api.serializers import AuditLogExtSerializer, AuditLogSerializer
from harbor_py.api.errors import HarborError
from projects.api.base import ProjectScopedView


class _ProjectLogs(ProjectScopedView):
    required = {"GET": ("log", "list")}
    serializer_class: type[Serializer] = AuditLogSerializer

    def get(self, request: Request, project_name_or_id: str) -> Response:
        access = self.project_access()
        entries = selectors.project_entries(
            access.project.pk,
            q=request.query_params.get("q"),
            sort=request.query_params.get("sort"),
        )
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.serializer_class(page, many=True).data)


class ProjectLogsView(_ProjectLogs):
    @extend_schema(operation_id="getLogs", responses=AuditLogSerializer(many=True))
    def get(self, request: Request, project_name_or_id: str) -> Response:
        return super().get(request, project_name_or_id)


class ProjectLogExtsView(_ProjectLogs):
    serializer_class = AuditLogExtSerializer

    @extend_schema(operation_id="getLogExts", responses=AuditLogExtSerializer(many=True))
    def get(self, request: Request, project_name_or_id: str) -> Response:
        return super().get(request, project_name_or_id)


class AuditLogListView(GenericAPIView):
    serializer_class = AuditLogSerializer

    @extend_schema(operation_id="listAuditLogs", responses=AuditLogSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _page_of(self, request, AuditLogSerializer)


class AuditLogExtListView(GenericAPIView):
    serializer_class = AuditLogExtSerializer

    @extend_schema(operation_id="listAuditLogExts", responses=AuditLogExtSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _page_of(self, request, AuditLogExtSerializer)


def _page_of(view: GenericAPIView, request: Request, serializer: type[Serializer]) -> Response:
    if not request.user.is_authenticated:
        raise HarborError(401, "authentication required")
    entries = selectors.visible_entries(
        request.user, q=request.query_params.get("q"), sort=request.query_params.get("sort")
    )
    page = view.paginate_queryset(entries)
    return view.get_paginated_response(serializer(page, many=True).data)


class AuditLogEventTypesView(APIView):
    @extend_schema(operation_id="listAuditLogEventTypes", responses={200: dict})
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise HarborError(401, "authentication required")
        return Response([{"event_type": name} for name in selectors.event_types()])
