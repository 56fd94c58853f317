from __future__ import annotations

from django.db import models

from projects.models import Project


class RetentionPolicy(models.Model):
    """Harbor's retention policy of one project (scope level "project"): its rules are
    Harbor's RetentionRule objects, kept as JSON as Harbor keeps them; the project's
    metadata `retention_id` names it."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="retention_policy"
    )
    # "or" (Harbor's), or "or-per-tag" (harbor-py: untag_only below)
    algorithm = models.CharField(max_length=16, default="or")
    rules = models.JSONField(default=list)
    # {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}, "references": {}}
    trigger = models.JSONField(default=dict)
    # harbor-py: delete only the tags no rule retains; an artifact goes when none of its
    # tags is retained (Harbor keeps or removes whole artifacts, goharbor/harbor#16157).
    untag_only = models.BooleanField(default=False)
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
        db_table = "retention_policy"
