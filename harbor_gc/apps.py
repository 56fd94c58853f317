from django.apps import AppConfig


class GcConfig(AppConfig):
    """Online garbage collection of unreferenced blobs (ARCHITECTURE.md §4).

    The package is `harbor_gc/` (`gc` is a built-in module name); `gc` at the top of the
    tree is a link to it, for the layout (docs/architecture.md, "Layout").
    """

    name = "harbor_gc"
    label = "gc"
    verbose_name = "Garbage collection"

    def ready(self) -> None:
        from harbor_gc.collector import collect
        from jobs.registry import JobType, declare

        declare(JobType("GARBAGE_COLLECTION", collect, audit_name="gc", writes_registry=True))
