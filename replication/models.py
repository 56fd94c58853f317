"""Registry endpoints and replication policies (ARCHITECTURE.md §6).

Runs are the generic jobs.Execution (vendor_type REPLICATION, vendor_id = the policy id)
with one Task per artifact (plus the controller task that the job runner drives).
"""

from __future__ import annotations

from django.db import models

from harbor_py.core import secretbox


class RegistryEndpoint(models.Model):
    class Type(models.TextChoices):
        HARBOR = "harbor"
        DOCKER_REGISTRY = "docker-registry"
        DOCKER_HUB = "docker-hub"  # registry-1.docker.io (replication.adapters.docker_hub)

    name = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, choices=Type.choices)
    url = models.CharField(max_length=512)
    credential_type = models.CharField(max_length=16, default="basic")
    access_key = models.CharField(max_length=255, blank=True, default="")
    # Fernet ciphertext (harbor_py.core.secretbox); empty when there is no secret.
    access_secret_encrypted = models.TextField(blank=True, default="")
    insecure = models.BooleanField(default=False)
    # PEM CA bundle that verifies this endpoint's certificate instead of the system pool.
    ca_certificate = models.TextField(blank=True, default="")
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, default="unknown")  # healthy | unhealthy | unknown
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "replication_registry"

    def __str__(self) -> str:
        return self.name

    @property
    def access_secret(self) -> str:
        stored = self.access_secret_encrypted
        return secretbox.decrypt(stored) if stored else ""

    @access_secret.setter
    def access_secret(self, value: str) -> None:
        self.access_secret_encrypted = secretbox.encrypt(value) if value else ""


class ReplicationPolicy(models.Model):
    class TriggerType(models.TextChoices):
        MANUAL = "manual"
        SCHEDULED = "scheduled"
        EVENT_BASED = "event_based"

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    # NULL means this instance: push-based when src is NULL, pull-based when dest is NULL.
    src_registry = models.ForeignKey(
        RegistryEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dest_registry = models.ForeignKey(
        RegistryEndpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dest_namespace = models.CharField(max_length=255, blank=True, default="")
    # How many leading path components dest_namespace replaces; -1: all but the last.
    dest_namespace_replace_count = models.SmallIntegerField(default=-1)
    filters = models.JSONField(default=list, blank=True)  # [{type, value, decoration}]
    trigger_type = models.CharField(
        max_length=16, choices=TriggerType.choices, default=TriggerType.MANUAL
    )
    cron = models.CharField(max_length=64, blank=True, default="")
    replicate_deletion = models.BooleanField(default=False)
    override = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    speed = models.IntegerField(default=0)  # KB/s per task; 0 = unlimited
    copy_by_chunk = models.BooleanField(default=False)
    # True: a start while an execution of this policy runs is recorded as Skipped.
    single_active_replication = models.BooleanField(default=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "replication_policy"

    def __str__(self) -> str:
        return self.name

    @property
    def is_push(self) -> bool:
        return self.src_registry_id is None
