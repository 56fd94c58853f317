from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0004_declared_single_active"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="records",
            field=models.TextField(blank=True, default=""),
        ),
    ]
