from __future__ import annotations

from rest_framework import serializers

from accounts.models import User


class UserCreationSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=255)
    email = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=128, write_only=True)
    realname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")


class UserSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="pk")
    sysadmin_flag = serializers.BooleanField(source="is_superuser")
    admin_role_in_auth = serializers.SerializerMethodField()
    creation_time = serializers.DateTimeField(source="date_joined")

    class Meta:
        model = User
        fields = [
            "user_id",
            "username",
            "email",
            "realname",
            "comment",
            "sysadmin_flag",
            "admin_role_in_auth",
            "creation_time",
            "update_time",
        ]

    def get_admin_role_in_auth(self, user: User) -> bool:
        return False
