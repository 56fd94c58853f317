from django.apps import AppConfig


class HarborPyConfig(AppConfig):
    name = "harbor_py"
    verbose_name = "harbor-py platform"

    def ready(self) -> None:
        from harbor_py.api import schema  # noqa: F401  (registers OpenAPI extensions)
        from harbor_py.ops import jsonlog, metrics

        jsonlog.connect_celery_signals()
        metrics.connect_celery_signals()
