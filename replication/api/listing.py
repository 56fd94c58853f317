"""The list shape shared by /registries and /replication/policies: q=, name=, sort=, pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.core.pagination import HarborPagination
from harbor_py.core.query import Field, apply_query, apply_sort

SORT = {"name": "name", "creation_time": "creation_time", "id": "pk"}


def named_page(
    view: APIView,
    request: Request,
    rows: QuerySet[Any],
    query: dict[str, Field],
    shape: Callable[[Any], dict[str, Any]],
) -> Response:
    rows = apply_query(rows, request.query_params.get("q"), query)
    if name := request.query_params.get("name"):
        rows = rows.filter(name__icontains=name)
    rows = apply_sort(rows, request.query_params.get("sort"), SORT, default=["-creation_time"])
    paginator = HarborPagination()
    page = paginator.paginate_queryset(rows, request, view)
    return paginator.get_paginated_response([shape(row) for row in page])
