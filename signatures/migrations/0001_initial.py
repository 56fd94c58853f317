import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("projects", "0001_initial"),
        ("registry", "0005_sign_accessory_type"),
    ]

    operations = [
        migrations.CreateModel(
            name="TrustedKey",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=128)),
                ("description", models.TextField(blank=True, default="")),
                ("algorithm", models.CharField(max_length=32)),
                ("fingerprint", models.CharField(max_length=80)),
                ("public_key", models.TextField()),
                ("creator", models.CharField(blank=True, default="", max_length=255)),
                ("creation_time", models.DateTimeField(auto_now_add=True)),
                (
                    "project",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="trusted_keys",
                        to="projects.project",
                    ),
                ),
            ],
            options={
                "db_table": "trusted_key",
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("project__isnull", False)),
                        fields=("project", "fingerprint"),
                        name="trusted_key_unique_project",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("project__isnull", True)),
                        fields=("fingerprint",),
                        name="trusted_key_unique_system",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SignatureCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key_set", models.CharField(max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[("verified", "Verified"), ("untrusted", "Untrusted"), ("invalid", "Invalid")],
                        max_length=16,
                    ),
                ),
                ("key_name", models.CharField(blank=True, default="", max_length=128)),
                ("message", models.TextField(blank=True, default="")),
                ("checked_at", models.DateTimeField(auto_now_add=True)),
                (
                    "key",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to="signatures.trustedkey",
                    ),
                ),
                (
                    "signature",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="checks",
                        to="registry.artifact",
                    ),
                ),
            ],
            options={
                "db_table": "signature_check",
                "constraints": [
                    models.UniqueConstraint(fields=("signature", "key_set"), name="signature_check_unique")
                ],
            },
        ),
    ]
