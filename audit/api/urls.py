from django.urls import path

from audit.api import views
from audit.purge import check_parameters
from jobs.api.views import system_job_urls

urlpatterns = [
    path("audit-logs", views.AuditLogListView.as_view()),
    path("auditlog-exts", views.AuditLogExtListView.as_view()),
    path("auditlog-exts/events", views.AuditLogEventTypesView.as_view()),
    path("auditlog-exts/export", views.AuditLogExportView.as_view()),
    path("projects/<str:project_name_or_id>/logs", views.ProjectLogsView.as_view()),
    path("projects/<str:project_name_or_id>/auditlog-exts", views.ProjectLogExtsView.as_view()),
    *system_job_urls(
        "system/purgeaudit",
        "PURGE_AUDIT_LOG",
        check_parameters,
        {
            "history": "getPurgeHistory",
            "get": "getPurgeJob",
            "stop": "stopPurge",
            "log": "getPurgeJobLog",
            "getSchedule": "getPurgeSchedule",
            "createSchedule": "createPurgeSchedule",
            "updateSchedule": "updatePurgeSchedule",
        },
    ),
]
