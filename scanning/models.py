"""Scanner registrations, scan reports and CVE allowlists (Harbor's scanner_registration,
scan_report, vulnerability_record and cve_allowlist tables)."""

from __future__ import annotations

import uuid

from django.db import models

from harbor_py.core import secretbox
from projects.models import Project
from registry.models import Artifact


def _uuid() -> str:
    return str(uuid.uuid4())


class Scanner(models.Model):
    """A registered scanner adapter. The credential is kept encrypted (secretbox); the
    adapter's metadata is cached here (`metadata`, `metadata_time`)."""

    uuid = models.CharField(max_length=64, unique=True, default=_uuid)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    url = models.CharField(max_length=512, unique=True)
    auth = models.CharField(max_length=64, blank=True, default="")
    access_credential_encrypted = models.TextField(blank=True, default="")
    disabled = models.BooleanField(default=False)
    is_default = models.BooleanField(default=False)
    skip_cert_verify = models.BooleanField(default=False)
    use_internal_addr = models.BooleanField(default=False)
    immutable = models.BooleanField(default=False)
    metadata = models.JSONField(null=True, blank=True)
    metadata_time = models.DateTimeField(null=True, blank=True)
    create_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scanner_registration"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="scanner_one_default",
            )
        ]

    @property
    def access_credential(self) -> str:
        stored = self.access_credential_encrypted
        return secretbox.decrypt(stored) if stored else ""

    @access_credential.setter
    def access_credential(self, value: str) -> None:
        self.access_credential_encrypted = secretbox.encrypt(value) if value else ""


class ProjectScanner(models.Model):
    """The scanner a project chose (Harbor: the project's scanner, else the default)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="+")
    scanner = models.ForeignKey(Scanner, on_delete=models.CASCADE, related_name="+")

    class Meta:
        db_table = "scanner_project"


class ReportStatus(models.TextChoices):
    PENDING = "Pending"
    RUNNING = "Running"
    STOPPED = "Stopped"
    ERROR = "Error"
    SUCCESS = "Success"


class ScanReport(models.Model):
    """One report: per artifact, per scanner, per report MIME type."""

    uuid = models.CharField(max_length=64, unique=True, default=_uuid)
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=255)
    registration_uuid = models.CharField(max_length=64)
    mime_type = models.CharField(max_length=255)
    scan_type = models.CharField(max_length=32, default="vulnerability")
    status = models.CharField(
        max_length=16, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    status_message = models.TextField(blank=True, default="")
    execution_id = models.BigIntegerField(null=True, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=255, blank=True, default="")
    report = models.JSONField(null=True, blank=True)
    # {"total", "fixable", "summary": {severity: n}, "severity"}; scanner: {name, vendor, version}
    summary = models.JSONField(null=True, blank=True)
    scanner = models.JSONField(null=True, blank=True)
    sbom_digest = models.CharField(max_length=255, blank=True, default="")
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    # While the adapter scans (request_id set): when the next poll of its report is due, the
    # back-off it uses when the adapter sends no Refresh-After, the deadline, the polls made
    # (scanning.scans: the job re-schedules itself between polls instead of waiting).
    poll_due = models.DateTimeField(null=True, blank=True)
    poll_delay = models.FloatField(default=0)
    poll_deadline = models.DateTimeField(null=True, blank=True)
    polls = models.IntegerField(default=0)

    class Meta:
        db_table = "scan_report"
        constraints = [
            models.UniqueConstraint(
                fields=["artifact", "registration_uuid", "mime_type"], name="scan_report_unique"
            )
        ]


class Vulnerability(models.Model):
    """A finding of a successful vulnerability report, one row per report and finding, for
    the security hub, the CVE export and the pull policy."""

    report = models.ForeignKey(ScanReport, on_delete=models.CASCADE, related_name="findings")
    cve_id = models.CharField(max_length=255, db_index=True)
    package = models.CharField(max_length=512)
    version = models.CharField(max_length=255, blank=True, default="")
    fixed_version = models.CharField(max_length=255, blank=True, default="")
    severity = models.CharField(max_length=16, db_index=True)
    cvss_v3_score = models.FloatField(null=True, blank=True)
    description = models.TextField(blank=True, default="")
    links = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "vulnerability_record"


class CVEAllowlist(models.Model):
    """The system allowlist (project null) or a project's."""

    project = models.OneToOneField(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    items = models.JSONField(default=list, blank=True)  # [cve_id, ...]
    expires_at = models.BigIntegerField(null=True, blank=True)  # seconds since the epoch
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "cve_allowlist"
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(project__isnull=True),
                name="cve_allowlist_one_system",
            )
        ]


class Export(models.Model):
    """The CSV of one CVE export (Harbor's /export/cve), by its execution."""

    execution_id = models.BigIntegerField(unique=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    user_name = models.CharField(max_length=255, blank=True, default="")
    content = models.TextField(blank=True, default="")
    file_present = models.BooleanField(default=False)

    class Meta:
        db_table = "scan_data_export"
