from __future__ import annotations

from rest_framework import serializers


class ImmutableSelectorSerializer(serializers.Serializer):
    kind = serializers.CharField()
    decoration = serializers.CharField()
    pattern = serializers.CharField()
    extras = serializers.CharField(required=False)


class ImmutableRuleSerializer(serializers.Serializer):
    """Harbor's ImmutableRule."""

    id = serializers.IntegerField(source="pk", read_only=True)
    priority = serializers.IntegerField(required=False, default=0)
    disabled = serializers.BooleanField(required=False, default=False)
    action = serializers.CharField(required=False, default="immutable")
    template = serializers.CharField(required=False, default="immutable_template")
    params = serializers.DictField(required=False, default=dict)
    tag_selectors = ImmutableSelectorSerializer(many=True)
    scope_selectors = serializers.DictField(child=ImmutableSelectorSerializer(many=True))
