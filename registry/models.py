from __future__ import annotations

from django.db import models

from projects.models import Project


class Repository(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="repositories")
    name = models.CharField(max_length=255, unique=True)  # full path, "<project>/<path...>"
    description = models.TextField(blank=True, default="")
    pull_count = models.BigIntegerField(default=0)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "repository"


class Blob(models.Model):
    """A content-addressed blob (layer, config or manifest) in registry storage.

    `status` and `version` carry the GC protocol of ARCHITECTURE.md §4: updates are
    compare-and-set on `version`.
    """

    class Status(models.TextChoices):
        NONE = "none"
        DELETE = "delete"
        DELETING = "deleting"
        DELETE_FAILED = "deletefailed"

    digest = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NONE)
    version = models.BigIntegerField(default=0)
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        db_table = "blob"


class Artifact(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="artifacts")
    digest = models.CharField(max_length=255)
    type = models.CharField(max_length=64, default="IMAGE")
    media_type = models.CharField(max_length=255)  # config media type (Harbor's media_type)
    manifest_media_type = models.CharField(max_length=255)
    artifact_type = models.CharField(max_length=255, blank=True, default="")
    subject_digest = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # Harbor's accessory type (registry.accessories) when subject_digest is set.
    accessory_type = models.CharField(max_length=32, blank=True, default="", db_default="")
    size = models.BigIntegerField(default=0)
    extra_attrs = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    push_time = models.DateTimeField(auto_now_add=True)
    pull_time = models.DateTimeField(null=True, blank=True)
    blobs = models.ManyToManyField(Blob, through="ArtifactBlob", related_name="artifacts")
    labels: models.ManyToManyField[Label, ArtifactLabel] = models.ManyToManyField(
        "Label", through="ArtifactLabel", related_name="artifacts"
    )

    class Meta:
        db_table = "artifact"
        constraints = [
            models.UniqueConstraint(fields=["repository", "digest"], name="artifact_unique_digest")
        ]
        indexes = [models.Index(fields=["repository", "push_time"], name="artifact_push_time")]


class ArtifactBlob(models.Model):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE)
    # PROTECT: a blob row that an artifact references can never be deleted (GC invariant).
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT)

    class Meta:
        db_table = "artifact_blob"
        constraints = [
            models.UniqueConstraint(fields=["artifact", "blob"], name="artifact_blob_unique")
        ]


class ArtifactReference(models.Model):
    """An index (parent) referencing a child manifest."""

    parent = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="references")
    child = models.ForeignKey(
        Artifact, null=True, on_delete=models.SET_NULL, related_name="referenced_by"
    )
    child_digest = models.CharField(max_length=255)
    platform = models.JSONField(null=True, blank=True)
    annotations = models.JSONField(null=True, blank=True)
    urls = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "artifact_reference"
        constraints = [
            models.UniqueConstraint(fields=["parent", "child_digest"], name="artifact_ref_unique")
        ]


class Tag(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="tags")
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=128)
    push_time = models.DateTimeField(auto_now=True)
    pull_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "tag"
        constraints = [
            models.UniqueConstraint(fields=["repository", "name"], name="tag_unique_name")
        ]


class ArtifactAddition(models.Model):
    """Content derived at push time and served by getAddition (e.g. the build history from
    the image config), so that reading it needs neither the registry nor the config blob."""

    class Type(models.TextChoices):
        BUILD_HISTORY = "build_history"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="additions")
    type = models.CharField(max_length=32, choices=Type.choices)
    content_type = models.CharField(max_length=128, default="application/json; charset=utf-8")
    content = models.TextField()

    class Meta:
        db_table = "artifact_addition"
        constraints = [
            models.UniqueConstraint(fields=["artifact", "type"], name="artifact_addition_unique")
        ]


class Label(models.Model):
    """Harbor's label: global (scope "g", managed by sysadmins) or of one project (scope "p")."""

    class Scope(models.TextChoices):
        GLOBAL = "g"
        PROJECT = "p"

    name = models.CharField(max_length=128)
    description = models.TextField(blank=True, default="")
    color = models.CharField(max_length=32, blank=True, default="")
    scope = models.CharField(max_length=1, choices=Scope.choices)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="labels"
    )
    creation_time = models.DateTimeField(auto_now_add=True)
    update_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "harbor_label"
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(scope="g"), name="label_unique_global_name"
            ),
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=models.Q(scope="p"),
                name="label_unique_project_name",
            ),
            models.CheckConstraint(
                condition=models.Q(scope="g", project__isnull=True)
                | models.Q(scope="p", project__isnull=False),
                name="label_scope_matches_project",
            ),
        ]


class ArtifactLabel(models.Model):
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE)
    label = models.ForeignKey(Label, on_delete=models.CASCADE)
    creation_time = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "label_reference"
        constraints = [
            models.UniqueConstraint(fields=["artifact", "label"], name="label_reference_unique")
        ]
