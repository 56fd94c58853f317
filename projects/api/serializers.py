from __future__ import annotations

from typing import Any

from rest_framework import serializers

from harbor_py.core.errors import DomainError
from projects import allowlist_hook
from projects.metadata import clean_request_metadata
from projects.models import Project, ProjectMember
from projects.roles import ROLE_RANK, Role
from projects.selectors import project_metadata


class ProjectReqSerializer(serializers.Serializer):
    """Harbor's ProjectReq. `metadata` values are checked by projects.metadata."""

    project_name = serializers.CharField(max_length=255)
    public = serializers.BooleanField(required=False, allow_null=True, default=None)
    metadata = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    cve_allowlist = serializers.DictField(required=False)
    storage_limit = serializers.IntegerField(required=False, allow_null=True)
    registry_id = serializers.IntegerField(required=False, allow_null=True)

    def validate_metadata(self, value: dict[str, str]) -> dict[str, str]:
        try:
            return clean_request_metadata(value)
        except DomainError as exc:
            raise serializers.ValidationError(str(exc.message)) from None


class ProjectUpdateSerializer(ProjectReqSerializer):
    """PUT /projects/{id}: the same body, but the name cannot change and may be left out."""

    project_name = serializers.CharField(max_length=255, required=False)


class ProjectDeletableSerializer(serializers.Serializer):
    deletable = serializers.BooleanField()
    message = serializers.CharField(required=False)


class ProjectSummarySerializer(serializers.Serializer):
    repo_count = serializers.IntegerField()
    project_admin_count = serializers.IntegerField(required=False)
    maintainer_count = serializers.IntegerField(required=False)
    developer_count = serializers.IntegerField(required=False)
    guest_count = serializers.IntegerField(required=False)
    limited_guest_count = serializers.IntegerField(required=False)
    quota = serializers.DictField(required=False)


class ProjectSerializer(serializers.ModelSerializer):
    """Harbor's Project. Context: `roles` = {project_id: set of the caller's roles} and
    `detail` (default True): without it, metadata and owner_name are left out, as Harbor
    does for with_detail=false. registry_id is sent for proxy-cache projects only."""

    project_id = serializers.IntegerField(source="pk")
    owner_id = serializers.IntegerField()
    owner_name = serializers.CharField(source="owner.username")
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
        return project_metadata(project)

    def to_representation(self, instance: Project) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context.get("detail", True):
            data.pop("metadata")
            data.pop("owner_name")
        elif (
            self.context.get("with_allowlist")
            and (allowlist := allowlist_hook.read(instance)) is not None
        ):
            data["cve_allowlist"] = allowlist
        if instance.registry_id is not None:
            data["registry_id"] = instance.registry_id
        return data


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
        return member.user.username if member.user else member.group.group_name  # type: ignore[union-attr]  # a member is a user or else a group

    def get_role_name(self, member: ProjectMember) -> str:
        return Role(member.role).role_name

    def get_entity_id(self, member: ProjectMember) -> int:
        return int(member.user_id or member.group_id)  # type: ignore[arg-type]  # a member is a user or else a group

    def get_entity_type(self, member: ProjectMember) -> str:
        return "u" if member.user_id else "g"


class RoleRequestSerializer(serializers.Serializer):
    role_id = serializers.IntegerField()
