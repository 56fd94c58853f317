"""Reads about garbage collection runs, for the API's GC history and the UI's jobs page."""

from __future__ import annotations

from typing import Any

from jobs.models import Execution

RESULT_KEYS = ("freed_space", "purged_blobs", "purged_manifests")


def job_parameters(execution: Execution) -> dict[str, Any]:
    """Harbor shows a GC's results with its parameters: freed_space (bytes), purged_blobs,
    purged_manifests."""
    results = {k: execution.extra_attrs[k] for k in RESULT_KEYS if k in execution.extra_attrs}
    return {**execution.parameters, **results}
