"""Artifact.accessory_type: Harbor's accessory type, recorded at push (#23). Rows that
have a subject already are typed by their artifact type."""

from django.db import migrations, models

BY_ARTIFACT_TYPE = {
    "application/vnd.dev.cosign.artifact.sig.v1+json": "signature.cosign",
    "application/vnd.cncf.notary.signature": "signature.notation",
    "application/vnd.goharbor.harbor.sbom.v1": "harbor.sbom",
}


def type_existing(apps, schema_editor):
    Artifact = apps.get_model("registry", "Artifact")
    rows = Artifact.objects.exclude(subject_digest="")
    for artifact_type, kind in BY_ARTIFACT_TYPE.items():
        rows.filter(artifact_type=artifact_type).update(accessory_type=kind)
    rows.filter(accessory_type="").update(accessory_type="subject.accessory")


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_pending_configs_schedule")]

    operations = [
        migrations.AddField(
            model_name="artifact",
            name="accessory_type",
            field=models.CharField(blank=True, default="", db_default="", max_length=32),
        ),
        migrations.RunPython(type_existing, migrations.RunPython.noop),
    ]
