from __future__ import annotations

from django.db import models

from projects.models import Project
from registry.models import Artifact


class TrustedKey(models.Model):
    """A public key whose signatures a project trusts; `project` None: a system key, trusted
    by every project."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="trusted_keys"
    )
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True, default="")
    algorithm = models.CharField(max_length=32)  # ECDSA-P256, ECDSA-P384, RSA-<bits>, Ed25519
    fingerprint = models.CharField(max_length=80)  # sha256 of the DER SubjectPublicKeyInfo
    public_key = models.TextField()  # PEM (SubjectPublicKeyInfo)
    creator = models.CharField(max_length=255, blank=True, default="")
    creation_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "trusted_key"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"],
                condition=models.Q(project__isnull=False),
                name="trusted_key_unique_project",
            ),
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(project__isnull=True),
                name="trusted_key_unique_system",
            ),
        ]


class SignatureCheck(models.Model):
    """The verification of one signature accessory against one set of trusted keys (the
    project's and the system's, `key_set` their hash): stored, so that a pull never
    verifies again what was verified with the same keys."""

    class Status(models.TextChoices):
        VERIFIED = "verified"  # a trusted key verifies it, over the subject's digest
        UNTRUSTED = "untrusted"  # well formed and names the subject, but no trusted key
        INVALID = "invalid"  # unreadable, malformed, over another digest, or a bad signature

    signature = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="checks")
    key_set = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    key = models.ForeignKey(TrustedKey, null=True, blank=True, on_delete=models.SET_NULL)
    key_name = models.CharField(max_length=128, blank=True, default="")
    message = models.TextField(blank=True, default="")
    checked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "signature_check"
        constraints = [
            models.UniqueConstraint(fields=["signature", "key_set"], name="signature_check_unique")
        ]
