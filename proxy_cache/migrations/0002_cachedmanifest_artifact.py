from django.db import migrations, models
import django.db.models.deletion


def link_and_drop_orphans(apps, schema_editor):
    """Rows of artifacts recorded before this link: link them; rows of artifacts deleted
    meanwhile (the GC sweep left them behind): drop them."""
    CachedManifest = apps.get_model("proxy_cache", "CachedManifest")
    Artifact = apps.get_model("registry", "Artifact")
    for row in CachedManifest.objects.filter(artifact__isnull=True).iterator():
        found = (
            Artifact.objects.filter(repository__name=row.repository, digest=row.digest)
            .values_list("pk", flat=True)
            .first()
        )
        if found is None:
            CachedManifest.objects.filter(pk=row.pk).delete()
        else:
            CachedManifest.objects.filter(pk=row.pk).update(artifact_id=found)


class Migration(migrations.Migration):

    dependencies = [
        ("proxy_cache", "0001_initial"),
        ("registry", "0005_sign_accessory_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="cachedmanifest",
            name="artifact",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="registry.artifact",
            ),
        ),
        migrations.RunPython(link_and_drop_orphans, migrations.RunPython.noop),
    ]
