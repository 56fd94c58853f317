from __future__ import annotations

from typing import Any

from rest_framework import serializers

from quotas.models import Quota


class QuotaSerializer(serializers.Serializer):
    """Harbor's Quota: ref is the project, hard and used are ResourceLists of `storage`."""

    id = serializers.IntegerField(source="pk")
    ref = serializers.SerializerMethodField()
    hard = serializers.SerializerMethodField()
    used = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField()
    update_time = serializers.DateTimeField()

    def get_ref(self, quota: Quota) -> dict[str, Any]:
        project = quota.project
        return {"id": project.pk, "name": project.name, "owner_name": project.owner.username}

    def get_hard(self, quota: Quota) -> dict[str, int]:
        return {"storage": quota.hard}

    def get_used(self, quota: Quota) -> dict[str, int]:
        return {"storage": quota.used}


class QuotaUpdateSerializer(serializers.Serializer):
    hard = serializers.DictField(child=serializers.IntegerField(min_value=-1))

    def validate_hard(self, value: dict[str, int]) -> dict[str, int]:
        if set(value) != {"storage"}:
            raise serializers.ValidationError('only "storage" can be limited')
        return value
