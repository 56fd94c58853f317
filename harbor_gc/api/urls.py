from harbor_gc.collector import check_parameters
from harbor_gc.selectors import job_parameters
from jobs.api.views import system_job_urls

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
