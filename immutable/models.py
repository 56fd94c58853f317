from __future__ import annotations

from django.db import models

from projects.models import Project


class ImmutableRule(models.Model):
    """Harbor's immutable tag rule: tags that the tag selectors accept, in repositories
    that the repository (scope) selectors accept, cannot be moved, overwritten or deleted.
    Selectors are Harbor's JSON ({kind: doublestar, decoration, pattern})."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="immutable_rules")
    priority = models.IntegerField(default=0)
    disabled = models.BooleanField(default=False)
    action = models.CharField(max_length=64, default="immutable")
    template = models.CharField(max_length=64, default="immutable_template")
    params = models.JSONField(default=dict, blank=True)
    tag_selectors = models.JSONField(default=list)
    scope_selectors = models.JSONField(default=dict)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "immutable_tag_rule"
