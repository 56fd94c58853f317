from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Harbor's project webhooks: policies, payloads, reliable delivery (docs/webhooks.md)."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from jobs.registry import JobType, declare
        from webhooks import consumers, delivery

        for vendor in delivery.VENDOR_TYPES:
            declare(
                JobType(
                    vendor,
                    delivery.run,
                    audit_name="webhook",
                    writes_registry=False,
                    single_active=False,
                    log_at_end=True,  # a request and its answer: one write per run
                )
            )
        consumers.subscribe_all()
