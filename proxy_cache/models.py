"""The manifests a proxy-cache project has served (docs/proxy-cache.md).

distribution refuses a manifest whose blobs (or index children) it does not hold, and a
cold pull serves the manifest before any of its blobs are cached. So the bytes of every
manifest served are kept here, by repository and digest, and answered from here; the
artifact, its tags and blob references are recorded in the registry's tables at once (as
a push records them). `stored` says the manifest was also put into distribution, which is
done as soon as it accepts it (its blobs cached): replication and the other readers of
distribution then find it there.

A row belongs to the artifact it was recorded as and goes with it (CASCADE: in the
transaction, under the locks, of every delete of the artifact: the API, retention, GC's
untagged sweep, fsck). A manifest served but not recorded (over the quota) is not kept.
"""

from __future__ import annotations

from django.db import models

from registry.models import Artifact


class CachedManifest(models.Model):
    repository = models.CharField(max_length=255)  # the local name: <project>/<path>
    digest = models.CharField(max_length=150)
    media_type = models.CharField(max_length=255)
    body = models.BinaryField()
    stored = models.BooleanField(default=False)
    # set once the artifact is recorded (the row is written just before)
    artifact = models.ForeignKey(
        Artifact, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    cached_time = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "proxy_cache_manifest"
        constraints = [
            models.UniqueConstraint(fields=["repository", "digest"], name="proxy_manifest_unique")
        ]
        indexes = [
            models.Index(
                fields=["repository"],
                condition=models.Q(stored=False),
                name="proxy_manifest_unstored",
            )
        ]
