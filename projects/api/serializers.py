from __future__ import annotations

from rest_framework import serializers

from projects.models import Project, ProjectMember
from projects.roles import ROLE_RANK, Role

METADATA_KEYS = {
    "public",
    "enable_content_trust",
    "enable_content_trust_cosign",
    "prevent_vul",
    "severity",
    "auto_scan",
    "auto_sbom_generation",
    "reuse_sys_cve_allowlist",
    "retention_id",
    "proxy_speed_kb",
}


class ProjectReqSerializer(serializers.Serializer):
    project_name = serializers.CharField(max_length=255)
    public = serializers.BooleanField(required=False, allow_null=True, default=None)
    metadata = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    storage_limit = serializers.IntegerField(required=False, allow_null=True)
    registry_id = serializers.IntegerField(required=False, allow_null=True)

    def validate_metadata(self, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - METADATA_KEYS
        if unknown:
            raise serializers.ValidationError(
                f"unknown metadata keys: {', '.join(sorted(unknown))}"
            )
        if "public" in value and value["public"] not in ("true", "false"):
            raise serializers.ValidationError('public must be "true" or "false"')
        return value


class ProjectSerializer(serializers.ModelSerializer):
    """Harbor's Project. Context: `roles` = {project_id: set of the caller's roles}."""

    project_id = serializers.IntegerField(source="pk")
    owner_id = serializers.IntegerField()
    owner_name = serializers.CharField(source="owner.username")
    registry_id = serializers.SerializerMethodField()
    deleted = serializers.SerializerMethodField()
    togglable = serializers.SerializerMethodField()
    current_user_role_id = serializers.SerializerMethodField()
    current_user_role_ids = serializers.SerializerMethodField()
    repo_count = serializers.IntegerField(default=0)
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "project_id",
            "owner_id",
            "name",
            "registry_id",
            "creation_time",
            "update_time",
            "deleted",
            "owner_name",
            "togglable",
            "current_user_role_id",
            "current_user_role_ids",
            "repo_count",
            "metadata",
        ]

    def _roles(self, project: Project) -> set[Role]:
        return self.context.get("roles", {}).get(project.pk, set())

    def get_registry_id(self, project: Project) -> int | None:
        return None

    def get_deleted(self, project: Project) -> bool:
        return False

    def get_togglable(self, project: Project) -> bool:
        return True

    def get_current_user_role_id(self, project: Project) -> int:
        roles = self._roles(project)
        return int(max(roles, key=ROLE_RANK.__getitem__)) if roles else 0

    def get_current_user_role_ids(self, project: Project) -> list[int]:
        return sorted(int(r) for r in self._roles(project))

    def get_metadata(self, project: Project) -> dict[str, str]:
        return {**project.metadata, "public": "true" if project.public else "false"}


class MemberUserSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(required=False)
    username = serializers.CharField(required=False)


class MemberGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField(required=False)
    group_name = serializers.CharField(required=False)
    group_type = serializers.IntegerField(required=False)
    ldap_group_dn = serializers.CharField(required=False)


class ProjectMemberReqSerializer(serializers.Serializer):
    role_id = serializers.IntegerField()
    member_user = MemberUserSerializer(required=False)
    member_group = MemberGroupSerializer(required=False)


class ProjectMemberEntitySerializer(serializers.ModelSerializer):
    project_id = serializers.IntegerField()
    entity_name = serializers.SerializerMethodField()
    role_name = serializers.SerializerMethodField()
    role_id = serializers.IntegerField(source="role")
    entity_id = serializers.SerializerMethodField()
    entity_type = serializers.SerializerMethodField()

    class Meta:
        model = ProjectMember
        fields = [
            "id",
            "project_id",
            "entity_name",
            "role_name",
            "role_id",
            "entity_id",
            "entity_type",
        ]

    def get_entity_name(self, member: ProjectMember) -> str:
        return member.user.username if member.user else member.group.group_name  # type: ignore[union-attr]

    def get_role_name(self, member: ProjectMember) -> str:
        return Role(member.role).role_name

    def get_entity_id(self, member: ProjectMember) -> int:
        return int(member.user_id or member.group_id)  # type: ignore[arg-type]

    def get_entity_type(self, member: ProjectMember) -> str:
        return "u" if member.user_id else "g"
