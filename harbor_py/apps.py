from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class HarborPyConfig(AppConfig):
    name = "harbor_py"
    verbose_name = "harbor-py platform"

    def ready(self) -> None:
        # Each app registers its run-time settings in its `options` module
        # (harbor_py.core.configuration), as Sentry's options do.
        autodiscover_modules("options")
        from harbor_py.api import schema  # noqa: F401  (registers OpenAPI extensions)
        from harbor_py.ops import jsonlog, metrics

        jsonlog.connect_celery_signals()
        metrics.connect_celery_signals()
