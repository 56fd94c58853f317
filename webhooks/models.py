"""Webhook policies of a project (Harbor's notification policies) and the state of each
target they deliver to. Deliveries themselves are jobs' executions and tasks (vendor
types WEBHOOK and SLACK), one execution per event, policy and target."""

from __future__ import annotations

from django.db import models

from projects.models import Project


class WebhookPolicy(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=256)
    description = models.TextField(blank=True, default="")
    # [{type, address, auth_header (encrypted), skip_cert_verify, payload_format,
    #   signing_secret (encrypted, never answered)}]
    targets = models.JSONField(default=list)
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    creator = models.CharField(max_length=255, blank=True, default="")
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_policy"
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="notification_policy_name")
        ]
        indexes = [models.Index(fields=["project", "enabled"])]


class TargetState(models.Model):
    """Per policy and target address: the delivery sequence (the order the events were
    taken in, sent as X-Harbor-Sequence) and whether the receiver keeps failing."""

    policy = models.ForeignKey(WebhookPolicy, on_delete=models.CASCADE, related_name="states")
    address = models.CharField(max_length=2048)
    sequence = models.BigIntegerField(default=0)
    consecutive_failures = models.IntegerField(default=0)
    failing = models.BooleanField(default=False)
    last_status = models.CharField(max_length=16, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    last_delivery = models.DateTimeField(null=True, blank=True)
    last_trigger = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notification_target_state"
        constraints = [
            models.UniqueConstraint(fields=["policy", "address"], name="notification_target")
        ]
