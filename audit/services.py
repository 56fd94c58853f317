"""Writing audit records. Callers run inside the transaction of the change they record."""

from __future__ import annotations

from audit.models import AuditLog


def record(
    *,
    username: str,
    operation: str,
    resource_type: str,
    resource: str,
    project_id: int | None = None,
    project_name: str = "",
    description: str = "",
    success: bool = True,
    client_address: str = "",
) -> AuditLog:
    return AuditLog.objects.create(
        username=username or "anonymous",
        operation=operation,
        resource_type=resource_type,
        resource=resource[:1024],
        project_id=project_id,
        project_name=project_name,
        description=description[:1024],
        success=success,
        client_address=client_address[:64],
    )
