"""The API's parser and OPTIONS metadata (settings.REST_FRAMEWORK), apart from errors.py:
DRF's parser and metadata modules read the settings that name these classes."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.metadata import BaseMetadata
from rest_framework.parsers import JSONParser
from rest_framework.request import Request


class HarborJSONParser(JSONParser):
    """DRF's parser with JSON nested past Python's recursion limit refused as a 400."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply") from None


class HarborMetadata(BaseMetadata):
    """OPTIONS answers which methods a path allows, and nothing else: DRF's default looked
    up the object for each writable method and failed on views without a queryset (500)."""

    def determine_metadata(self, request: Request, view: Any) -> dict[str, Any]:
        return {"name": view.get_view_name(), "allowed_methods": view.allowed_methods}
