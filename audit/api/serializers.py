from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = ["id", "username", "resource", "resource_type", "operation", "op_time"]


class AuditLogExtSerializer(serializers.ModelSerializer):
    operation_description = serializers.CharField(source="description")
    operation_result = serializers.BooleanField(source="success")

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "username",
            "resource",
            "resource_type",
            "operation",
            "operation_description",
            "operation_result",
            "op_time",
        ]
