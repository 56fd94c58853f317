"""The run-time settings of quotas (harbor_py.core.configuration)."""

from harbor_py.core.configuration import register
from harbor_py.core.errors import Problem

MAX_BYTES = 2**63 - 1  # PostgreSQL's bigint


def _quota(value: int) -> str | None:
    if value == -1 or 0 <= value <= MAX_BYTES:
        return None
    return Problem("must be -1 (unlimited) or a size in bytes", "quota.invalid")


register("quota_per_project_enable", bool, True)
register("storage_per_project", int, -1, check=_quota)
