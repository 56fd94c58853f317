"""Words for the raw values the models store and the pages show (job status and trigger,
audit operations and resource types, artifact types, registry health), so that they are
translated. A value without a word here is shown as it is."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Promise] = {
    # Job executions (jobs.models.Status, Trigger).
    "Pending": _("Pending"),
    "Running": _("Running"),
    "Stopped": _("Stopped"),
    "Error": _("Error"),
    "Success": _("Success"),
    "Skipped": _("Skipped"),
    "MANUAL": _("Manual"),
    "SCHEDULE": _("Scheduled"),
    "EVENT": _("Event based"),
    "manual": _("Manual"),
    "scheduled": _("Scheduled"),
    "event_based": _("Event based"),
    "GARBAGE_COLLECTION": _("Garbage collection"),
    "REPLICATION": _("Replication"),
    "PURGE_AUDIT_LOG": _("Audit log purge"),
    # Audit operations.
    "create": _("create"),
    "delete": _("delete"),
    "update": _("update"),
    "pull": _("pull"),
    "push": _("push"),
    "login": _("sign in"),
    "logout": _("sign out"),
    "list": _("list"),
    "read": _("read"),
    "stop": _("stop"),
    # Audit resource types.
    "project": _("project"),
    "repository": _("repository"),
    "artifact": _("artifact"),
    "tag": _("tag"),
    "robot": _("robot account"),
    "user": _("user"),
    "user_group": _("user group"),
    "member": _("member"),
    "label": _("label"),
    "registry": _("registry"),
    "replication_policy": _("replication rule"),
    "immutable_rule": _("immutability rule"),
    "quota": _("quota"),
    "configuration": _("configuration"),
    "immutable-tag": _("immutability rule"),
    "helm-chart": _("Helm chart"),
    "helm-chart-version": _("Helm chart version"),
    "scan": _("scan"),
    "scanner": _("scanner"),
    "metadata": _("project metadata"),
    "log": _("log"),
    "notification-policy": _("webhook"),
    "preheat-policy": _("preheat policy"),
    "tag-retention": _("tag retention"),
    "accessory": _("accessory"),
    "artifact-label": _("artifact label"),
    "artifact-addition": _("artifact addition"),
    "sbom": _("SBOM"),
    "export-cve": _("CVE export"),
    "audit-log": _("audit log"),
    "catalog": _("catalog"),
    "garbage-collection": _("garbage collection"),
    "replication-adapter": _("replication adapter"),
    "distribution": _("distribution"),
    "ldap-user": _("LDAP user"),
    "user-group": _("user group"),
    "replication": _("replication"),
    "scan-all": _("scan all"),
    "system-volumes": _("system volumes"),
    "purge-audit": _("audit log purge"),
    "jobservice-monitor": _("job service monitor"),
    "security-hub": _("security hub"),
    "operate": _("operate"),
    # Artifact types.
    "IMAGE": _("Image"),
    "CHART": _("Helm chart"),
    "CNAB": _("CNAB"),
    "UNKNOWN": _("Unknown"),
    # Registry health.
    "healthy": _("healthy"),
    "unhealthy": _("unhealthy"),
    "unknown": _("unknown"),
}


def label(value: object) -> str:
    word = LABELS.get(str(value))
    return str(word) if word is not None else str(value)
