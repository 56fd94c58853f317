"""Bodies of the trusted-key and signature endpoints (harbor-py's own, beyond Harbor's API)."""

from __future__ import annotations

from rest_framework import serializers


class TrustedKeySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", read_only=True)
    project_id = serializers.IntegerField(read_only=True, allow_null=True)
    name = serializers.CharField(max_length=128)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    algorithm = serializers.CharField(read_only=True)
    fingerprint = serializers.CharField(read_only=True)
    public_key = serializers.CharField(max_length=16384, trim_whitespace=False)
    creator = serializers.CharField(read_only=True)
    creation_time = serializers.DateTimeField(read_only=True)


class SignatureSerializer(serializers.Serializer):
    """A signature accessory and its verification against the keys trusted now."""

    digest = serializers.CharField(source="signature.digest")
    type = serializers.CharField(source="signature.accessory_type")
    status = serializers.CharField(source="check.status")
    key_id = serializers.IntegerField(source="check.key_id", allow_null=True)
    key_name = serializers.CharField(source="check.key_name")
    message = serializers.CharField(source="check.message")
    checked_at = serializers.DateTimeField(source="check.checked_at")
