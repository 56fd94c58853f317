from __future__ import annotations

from celery import shared_task

from registry import pulls


@shared_task(name="registry.tasks.aggregate_pulls", ignore_result=True)
def aggregate_pulls() -> dict[str, int]:
    """Scheduled by django-celery-beat (migration registry 0003)."""
    return pulls.aggregate()


@shared_task(name="registry.tasks.read_pending_configs", ignore_result=True)
def read_pending_configs() -> int:
    """Scheduled by django-celery-beat (migration registry 0004)."""
    from registry import pending_configs

    return pending_configs.read_batch()
