from __future__ import annotations

from typing import Any

from rest_framework import serializers

from scanning import allowlists
from scanning.models import CVEAllowlist, Scanner


def _time(value: Any) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def registration(scanner: Scanner) -> dict[str, Any]:
    """Harbor's ScannerRegistration. The credential is never sent back (Harbor masks it)."""
    body: dict[str, Any] = {
        "uuid": scanner.uuid,
        "name": scanner.name,
        "description": scanner.description,
        "url": scanner.url,
        "disabled": scanner.disabled,
        "is_default": scanner.is_default,
        "auth": scanner.auth,
        "access_credential": "",
        "skip_certVerify": scanner.skip_cert_verify,
        "use_internal_addr": scanner.use_internal_addr,
        "create_time": _time(scanner.create_time),
        "update_time": _time(scanner.update_time),
    }
    meta = scanner.metadata
    if meta:
        info = meta.get("scanner", {})
        body["adapter"] = info.get("name", "")
        body["vendor"] = info.get("vendor", "")
        body["version"] = info.get("version", "")
        kinds = {c.get("type", "vulnerability") for c in meta.get("capabilities", [])}
        body["capabilities"] = {
            "support_vulnerability": "vulnerability" in kinds,
            "support_sbom": "sbom" in kinds,
        }
    return body


def allowlist(found: CVEAllowlist | None, project_id: int = 0) -> dict[str, Any]:
    return allowlists.body(found, project_id)


class RegistrationReq(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    url = serializers.CharField(max_length=512)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    auth = serializers.CharField(required=False, allow_blank=True, default="")
    access_credential = serializers.CharField(required=False, allow_blank=True, default="")
    disabled = serializers.BooleanField(required=False, default=False)
    skip_certVerify = serializers.BooleanField(required=False, default=False)  # Harbor's field
    use_internal_addr = serializers.BooleanField(required=False, default=False)


class RegistrationSettings(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    url = serializers.CharField(max_length=512)
    auth = serializers.CharField(required=False, allow_blank=True, default="")
    access_credential = serializers.CharField(required=False, allow_blank=True, default="")


class IsDefault(serializers.Serializer):
    is_default = serializers.BooleanField()


class ProjectScannerBody(serializers.Serializer):
    uuid = serializers.CharField()


class ScanType(serializers.Serializer):
    scan_type = serializers.ChoiceField(choices=["vulnerability", "sbom"], required=False)
