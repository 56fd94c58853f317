from typing import Any

from harbor_gc.collector import check_parameters
from jobs.api.views import system_job_urls
from jobs.models import Execution

RESULT_KEYS = ("freed_space", "purged_blobs", "purged_manifests")


def job_parameters(execution: Execution) -> dict[str, Any]:
    """Harbor shows a GC's results with its parameters: freed_space (bytes), purged_blobs,
    purged_manifests."""
    results = {k: execution.extra_attrs[k] for k in RESULT_KEYS if k in execution.extra_attrs}
    return {**execution.parameters, **results}


urlpatterns = system_job_urls(
    "system/gc",
    "GARBAGE_COLLECTION",
    check_parameters,
    {
        "history": "getGCHistory",
        "get": "getGC",
        "stop": "stopGC",
        "log": "getGCLog",
        "getSchedule": "getGCSchedule",
        "createSchedule": "createGCSchedule",
        "updateSchedule": "updateGCSchedule",
    },
    job_parameters,
)
