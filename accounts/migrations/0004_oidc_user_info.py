import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_robot"),
    ]

    operations = [
        migrations.CreateModel(
            name="OIDCUserInfo",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("subiss", models.CharField(max_length=512, unique=True)),
                ("secret", models.TextField()),
                ("token", models.TextField(blank=True, default="")),
                ("admin_in_auth", models.BooleanField(default=False)),
                ("creation_time", models.DateTimeField(auto_now_add=True)),
                ("update_time", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oidc_info",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"db_table": "oidc_user"},
        ),
    ]
