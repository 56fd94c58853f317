from django.apps import AppConfig


class QuotasConfig(AppConfig):
    """Per-project storage quotas, enforced at the manifest push."""

    name = "quotas"
    default_auto_field = "django.db.models.BigAutoField"
