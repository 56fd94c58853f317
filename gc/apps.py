from django.apps import AppConfig


class GcConfig(AppConfig):
    """Online garbage collection of unreferenced blobs (ARCHITECTURE.md §4).

    Imported as `harbor_gc` (see harbor_py/__init__.py): `gc` is a built-in module name.
    """

    name = "harbor_gc"
    label = "gc"
    verbose_name = "Garbage collection"

    def ready(self) -> None:
        from harbor_gc.collector import collect
        from jobs.registry import JobType, declare

        declare(JobType("GARBAGE_COLLECTION", collect, audit_name="gc", writes_registry=True))
