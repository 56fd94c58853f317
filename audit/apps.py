from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit.purge import purge
        from jobs.registry import JobType, declare

        declare(JobType("PURGE_AUDIT_LOG", purge, audit_name="purge_audit", writes_registry=False))
