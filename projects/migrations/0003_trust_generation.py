import time

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_proxy_registry_id")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="trust_generation",
            field=models.BigIntegerField(default=time.time_ns),
        ),
    ]
