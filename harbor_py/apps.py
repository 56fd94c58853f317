from django.apps import AppConfig


class HarborPyConfig(AppConfig):
    name = "harbor_py"
    verbose_name = "harbor-py platform"
