from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """The /v2 gate in front of distribution, and repositories, artifacts, tags and blobs."""

    name = "registry"
