"""Which function runs a job of each vendor type. Apps register theirs in AppConfig.ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.context import JobContext

JobFunction = Callable[["JobContext"], dict[str, object] | None]
_JOBS: dict[str, JobFunction] = {}


def register(vendor_type: str, function: JobFunction) -> None:
    _JOBS[vendor_type] = function


def job_for(vendor_type: str) -> JobFunction:
    return _JOBS[vendor_type]


def known(vendor_type: str) -> bool:
    return vendor_type in _JOBS
