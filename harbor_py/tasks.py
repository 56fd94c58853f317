"""The kernel's Celery tasks, for Celery's autodiscovery."""

from harbor_py.core.events import deliver_events, deliver_pending, sweep_events

__all__ = ["deliver_events", "deliver_pending", "sweep_events"]
