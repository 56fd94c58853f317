"""GET /icons/{digest} (Harbor's getIcon): the built-in icon an artifact's `icon` names."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.core.errors import bad_request, not_found
from registry import icons
from registry.names import is_digest


class IconView(APIView):
    @extend_schema(operation_id="getIcon", responses={200: dict})
    def get(self, request: Request, digest: str) -> Response:
        if not is_digest(digest):
            raise bad_request(f"invalid digest: {digest}")
        found = icons.icon(digest)
        if found is None:
            raise not_found(f"icon {digest} not found")
        return Response(found)
