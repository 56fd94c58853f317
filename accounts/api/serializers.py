from __future__ import annotations

from rest_framework import serializers

from accounts.models import User, UserGroup


class UserCreationSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=255)
    email = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=128, write_only=True)
    realname = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    comment = serializers.CharField(max_length=1024, required=False, allow_blank=True, default="")


class UserSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="pk")
    sysadmin_flag = serializers.BooleanField()
    admin_role_in_auth = serializers.BooleanField()
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


class UserProfileSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=255, allow_blank=True, required=False, default="")
    realname = serializers.CharField(allow_blank=True, required=False, default="")
    comment = serializers.CharField(allow_blank=True, required=False, default="")


class UserSysAdminFlagSerializer(serializers.Serializer):
    sysadmin_flag = serializers.BooleanField()


class PasswordReqSerializer(serializers.Serializer):
    old_password = serializers.CharField(required=False, allow_blank=True, default="")
    new_password = serializers.CharField(allow_blank=True)


class UserSearchRespItemSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="pk")

    class Meta:
        model = User
        fields = ["user_id", "username"]


class UserGroupSerializer(serializers.ModelSerializer):
    """Harbor's UserGroup, for responses and request bodies alike."""

    id = serializers.IntegerField(read_only=True)
    group_name = serializers.CharField(allow_blank=True, required=False, default="")
    group_type = serializers.IntegerField(required=False, allow_null=True, default=None)
    ldap_group_dn = serializers.CharField(allow_blank=True, required=False, default="")

    class Meta:
        model = UserGroup
        fields = ["id", "group_name", "group_type", "ldap_group_dn"]


class UserGroupSearchItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserGroup
        fields = ["id", "group_name", "group_type"]


class LdapConfSerializer(serializers.Serializer):
    """POST /ldap/ping: every field optional, the saved settings fill the rest."""

    ldap_url = serializers.CharField(required=False, allow_blank=True)
    ldap_search_dn = serializers.CharField(required=False, allow_blank=True)
    ldap_search_password = serializers.CharField(required=False, allow_blank=True)
    ldap_base_dn = serializers.CharField(required=False, allow_blank=True)
    ldap_filter = serializers.CharField(required=False, allow_blank=True)
    ldap_uid = serializers.CharField(required=False, allow_blank=True)
    ldap_scope = serializers.IntegerField(required=False, min_value=0, max_value=2)
    ldap_connection_timeout = serializers.IntegerField(required=False, min_value=0)
    ldap_verify_cert = serializers.BooleanField(required=False)


class LdapPingResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


class LdapUserSerializer(serializers.Serializer):
    username = serializers.CharField()
    realname = serializers.CharField()
    email = serializers.CharField()


class LdapImportUsersSerializer(serializers.Serializer):
    ldap_uid_list = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False)
    )


class LdapFailedImportUserSerializer(serializers.Serializer):
    uid = serializers.CharField()
    error = serializers.CharField()


class LdapGroupSerializer(serializers.Serializer):
    """A directory group in Harbor's UserGroup shape (not a user group yet: no id)."""

    group_name = serializers.CharField(source="name")
    group_type = serializers.SerializerMethodField()
    ldap_group_dn = serializers.CharField(source="dn")

    def get_group_type(self, group: object) -> int:
        return UserGroup.GroupType.LDAP
