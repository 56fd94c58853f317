from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from audit import selectors
from audit.api.serializers import AuditLogExtSerializer, AuditLogSerializer
from audit.models import AuditLog
from harbor_py.api.schema import listing
from harbor_py.core.errors import Code, DomainError
from harbor_py.core.pagination import HarborPagination
from projects.scoped_view import ProjectScopedView


class AuditPagination(HarborPagination):
    """Harbor's pagination with a bounded X-Total-Count (audit.selectors.count_entries)."""

    def count(self, queryset: Any, *, at_least: int = 0) -> int:
        return selectors.count_entries(queryset, at_least=at_least)


class _ProjectLogs(ProjectScopedView):
    required = {"GET": ("log", "list")}
    serializer_class: type[Serializer] = AuditLogSerializer
    pagination_class = AuditPagination

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


def _visible(request: Request) -> Any:
    if not request.user.is_authenticated:
        raise DomainError(Code.UNAUTHORIZED, "authentication required")
    return selectors.visible_entries(
        request.user, q=request.query_params.get("q"), sort=request.query_params.get("sort")
    )


class AuditLogListView(GenericAPIView):
    serializer_class = AuditLogSerializer
    pagination_class = AuditPagination

    @extend_schema(operation_id="listAuditLogs", responses=AuditLogSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _page_of(self, request, AuditLogSerializer)


class AuditLogExtListView(GenericAPIView):
    serializer_class = AuditLogExtSerializer
    pagination_class = AuditPagination

    @extend_schema(operation_id="listAuditLogExts", responses=AuditLogExtSerializer(many=True))
    def get(self, request: Request) -> Response:
        return _page_of(self, request, AuditLogExtSerializer)


def _page_of(view: GenericAPIView, request: Request, serializer: type[Serializer]) -> Response:
    page = view.paginate_queryset(_visible(request))
    return view.get_paginated_response(serializer(page, many=True).data)


class AuditLogEventTypesView(APIView):
    @listing("listAuditLogEventTypes", paged=False)
    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise DomainError(Code.UNAUTHORIZED, "authentication required")
        return Response([{"event_type": name} for name in selectors.event_types()])


# -- CSV export (not in Harbor's API) --------------------------------------------------------

EXPORT_COLUMNS = [
    "id",
    "op_time",
    "username",
    "project",
    "resource",
    "resource_type",
    "operation",
    "operation_description",
    "operation_result",
    "client_address",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas (CSV injection): such
    user-controlled text (a username typed at a login prompt) gets a leading quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _row(entry: AuditLog) -> list[str]:
    return [
        str(entry.pk),
        entry.op_time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        _cell(entry.username),
        _cell(entry.project_name),
        _cell(entry.resource),
        entry.resource_type,
        entry.operation,
        _cell(entry.description),
        "success" if entry.success else "failure",
        _cell(entry.client_address),
    ]


class _Line:
    """csv.writer target that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(entries: Any) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for entry in selectors.export_rows(entries):
        yield writer.writerow(_row(entry))


class AuditLogExportView(APIView):
    """GET /api/v2.0/auditlog-exts/export?q=...&sort=... : every entry of the query that the
    caller may see (same q=, sort= and visibility as /auditlog-exts), as streamed CSV."""

    @extend_schema(
        operation_id="exportAuditLogExts",
        parameters=[OpenApiParameter("q", str), OpenApiParameter("sort", str)],
        responses={(200, "text/csv"): str},
    )
    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # The body is CSV whatever the Accept header says; errors are Harbor's JSON.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def get(self, request: Request) -> StreamingHttpResponse:
        entries = _visible(request)  # a bad q= or sort= is a 400 before streaming starts
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(csv_lines(entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        response["X-Accel-Buffering"] = "no"
        return response
