"""Harbor's pagination: page/page_size (default 10, max 100), X-Total-Count and Link."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.core.errors import bad_request

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_PAGE = 2**31 - 1  # the offset (page - 1) * page_size stays far inside a bigint


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if not 1 <= value <= MAX_PAGE:
        raise bad_request(f"{name} must be an integer from 1 to {MAX_PAGE}")
    return value


class HarborPagination(BasePagination):
    def paginate_queryset(
        self, queryset: QuerySet[Any] | Sequence[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.page = _positive_int(request, "page", 1)
        self.page_size = min(_positive_int(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        start = (self.page - 1) * self.page_size
        items = list(queryset[start : start + self.page_size])
        # What this page proves: as many entries as seen, and one more when it is full.
        seen = start + len(items) + (1 if len(items) == self.page_size else 0)
        self.total = self.count(queryset, at_least=seen if items else 0)
        return items

    def count(self, queryset: QuerySet[Any] | Sequence[Any], *, at_least: int = 0) -> int:
        """X-Total-Count. Subclasses may bound its cost on big tables by answering an
        estimate, never below `at_least`."""
        return queryset.count() if isinstance(queryset, QuerySet) else len(queryset)

    def _link(self, page: int, rel: str) -> str:
        params = self.request.query_params.copy()
        params["page"] = str(page)
        params["page_size"] = str(self.page_size)
        return f'<{self.request.path}?{params.urlencode()}>; rel="{rel}"'

    def get_paginated_response(self, data: Any) -> Response:
        response = Response(data)
        response["X-Total-Count"] = str(self.total)
        links = []
        if self.page > 1:
            links.append(self._link(self.page - 1, "prev"))
        if self.page * self.page_size < self.total:
            links.append(self._link(self.page + 1, "next"))
        if links:
            response["Link"] = ", ".join(links)
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return schema

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """page, page_size, q and sort, as Harbor's own document has them on its lists."""

        def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
            return {
                "name": name,
                "in": "query",
                "required": False,
                "schema": schema,
                "description": description,
            }

        return [
            query(
                "page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                "The page number",
            ),
            query(
                "page_size",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE,
                    "default": DEFAULT_PAGE_SIZE,
                },
                f"The size per page (at most {MAX_PAGE_SIZE} are returned)",
            ),
            query(
                "q",
                {"type": "string"},
                "Query string: key=value, key=~fuzzy, key=[min~max], key={a b}, key=(a b), "
                "comma separated",
            ),
            query("sort", {"type": "string"}, "Sort keys, comma separated, - for descending"),
        ]
