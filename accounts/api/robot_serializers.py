from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import Robot


class RobotCreateSerializer(serializers.Serializer):
    """Harbor's RobotCreate (and, for PUT, Robot: the same writable fields)."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    secret = serializers.CharField(required=False, allow_blank=True, default="")
    level = serializers.CharField()
    disable = serializers.BooleanField(required=False, default=False)
    duration = serializers.IntegerField(required=False, allow_null=True, default=None)
    permissions = serializers.ListField(child=serializers.DictField(), allow_empty=False)

    def validate_permissions(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in value:
            access = item.get("access")
            if not isinstance(access, list) or not all(isinstance(a, dict) for a in access):
                raise serializers.ValidationError("access must be a list of objects")
        return value


class RobotSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(required=False, allow_blank=True, default="")


class RobotCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    secret = serializers.CharField()
    creation_time = serializers.DateTimeField()
    expires_at = serializers.IntegerField()


class RobotSerializer(serializers.ModelSerializer):
    """Harbor's Robot; the secret is never shown."""

    disable = serializers.BooleanField(source="disabled")
    editable = serializers.SerializerMethodField()

    class Meta:
        model = Robot
        fields = [
            "id",
            "name",
            "description",
            "level",
            "duration",
            "editable",
            "disable",
            "expires_at",
            "permissions",
            "creator_type",
            "creator_ref",
            "creation_time",
            "update_time",
        ]

    def get_editable(self, robot: Robot) -> bool:
        return True
