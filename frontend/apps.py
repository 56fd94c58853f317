from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """The web UI served at / (issue: web UI)."""

    name = "frontend"
