from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="registry_id",
            field=models.IntegerField(blank=True, default=None, null=True),
        ),
    ]
