from django.apps import AppConfig


class ScannerConfig(AppConfig):
    """The built-in scanner (a process of its own: scanner.wsgi), its OSV database, its
    layer cache and its scan jobs. It imports no other app: harbor-py calls it through the
    scanner adapter API, as it would call Trivy's adapter."""

    name = "scanner"
    default_auto_field = "django.db.models.BigAutoField"
