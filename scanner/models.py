"""The built-in scanner's own tables: the OSV database, the per-layer inventory cache and
the scan jobs of the adapter API."""

from __future__ import annotations

import uuid

from django.db import models


class Advisory(models.Model):
    """One OSV record (https://ossf.github.io/osv-schema/)."""

    id = models.CharField(primary_key=True, max_length=255)
    modified = models.CharField(max_length=64, blank=True)
    withdrawn = models.CharField(max_length=64, blank=True)  # OSV's timestamp, "" if not
    summary = models.TextField(blank=True)
    details = models.TextField(blank=True)
    aliases = models.JSONField(default=list)
    severity = models.CharField(max_length=16, default="Unknown")  # Harbor's scale
    cvss_vector = models.CharField(max_length=255, blank=True)
    cvss_score = models.FloatField(null=True)
    cwe_ids = models.JSONField(default=list)
    links = models.JSONField(default=list)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scanner_advisory"


class AffectedPackage(models.Model):
    """One `affected` entry of a record: the package (name normalized for matching), its
    ecosystem split into base and release (`Debian:12` -> Debian, 12) and the ranges."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="affected")
    ecosystem = models.CharField(max_length=64)
    release = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=512)
    ranges = models.JSONField(default=list)
    versions = models.JSONField(default=list)
    severity = models.CharField(max_length=16, blank=True)  # ecosystem_specific, if any

    class Meta:
        db_table = "scanner_affected_package"
        indexes = [models.Index(fields=["ecosystem", "name"], name="scanner_affected_eco_name")]


class LayerInventory(models.Model):
    """What one layer holds that the scanner reads (package databases, manifests, Go build
    info) and what it deletes (whiteouts, opaque directories), keyed by the layer's digest
    and the analyzer's version: an image that shares layers costs only its new ones."""

    digest = models.CharField(max_length=100)
    analyzer = models.CharField(max_length=32)
    content = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "scanner_layer_inventory"
        constraints = [
            models.UniqueConstraint(fields=["digest", "analyzer"], name="scanner_layer_unique")
        ]


class LayerFindings(models.Model):
    """A layer's packages and their findings, for one image context (the os-release of the
    image: it decides the ecosystem release of dpkg and apk packages) and one OSV database
    generation (the last import): an image whose lower layers were scanned before matches
    only its new layers. An import deletes the rows of older generations."""

    digest = models.CharField(max_length=100)
    analyzer = models.CharField(max_length=32)
    context = models.CharField(max_length=255)
    generation = models.BigIntegerField()
    content = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "scanner_layer_findings"
        constraints = [
            models.UniqueConstraint(
                fields=["digest", "analyzer", "context", "generation"],
                name="scanner_layer_findings_unique",
            )
        ]


class ScanJob(models.Model):
    QUEUED, RUNNING, DONE, ERROR = "queued", "running", "done", "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    request = models.JSONField()
    status = models.CharField(max_length=16, default=QUEUED)
    message = models.TextField(blank=True)
    result = models.JSONField(null=True)
    owner = models.CharField(max_length=255, blank=True)  # host:pid of the process holding it
    heartbeat = models.DateTimeField(null=True)  # renewed by its owner (scanner.leases)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True)

    class Meta:
        db_table = "scanner_scan_job"
        indexes = [models.Index(fields=["created"], name="scanner_job_created")]


class ImportRun(models.Model):
    """One `manage.py scanner_db import`: when, from where, how many records."""

    source = models.TextField()
    records = models.IntegerField(default=0)
    withdrawn = models.IntegerField(default=0)
    finished = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "scanner_import_run"
