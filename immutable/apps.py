from django.apps import AppConfig


class ImmutableConfig(AppConfig):
    """Tag immutability rules, enforced on the registry protocol and the API alike."""

    name = "immutable"
    default_auto_field = "django.db.models.BigAutoField"
