"""Shapes that several apps' REST APIs share (apps' `api` packages do not import each other)."""

from __future__ import annotations

from rest_framework import serializers


class PermissionSerializer(serializers.Serializer):
    """Harbor's Permission: a (resource, action) pair."""

    resource = serializers.CharField()
    action = serializers.CharField()
