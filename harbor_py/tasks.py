"""The kernel's Celery tasks, for Celery's autodiscovery."""

from harbor_py.core.events import deliver_events, sweep_events

__all__ = ["deliver_events", "sweep_events"]
