from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit import tasks
        from audit.events import AuditLogged
        from audit.purge import purge
        from harbor_py.core.events import subscribe
        from jobs.registry import JobType, declare

        declare(JobType("PURGE_AUDIT_LOG", purge, audit_name="purge_audit", writes_registry=False))
        # in process: the entries wait in audit_outbox, which keeps their order, and beat
        # drains it every 10 s whatever happens to this kick
        subscribe(AuditLogged, tasks.on_logged, name="audit.forwarding")
