from django.urls import path

from scanning.api import views

ARTIFACT = (
    "projects/<str:project_name>/repositories/<str:repository_name>/artifacts/<str:reference>"
)
PROJECT = "projects/<str:project_name_or_id>"

urlpatterns = [
    path("scanners", views.ScannersView.as_view()),
    path("scanners/ping", views.PingView.as_view()),
    path("scanners/<str:registration_id>", views.ScannerView.as_view()),
    path("scanners/<str:registration_id>/metadata", views.ScannerMetadataView.as_view()),
    path(f"{PROJECT}/scanner", views.ProjectScannerView.as_view()),
    path(f"{PROJECT}/scanner/candidates", views.ProjectScannerCandidatesView.as_view()),
    path(f"{ARTIFACT}/scan", views.ScanView.as_view()),
    path(f"{ARTIFACT}/scan/stop", views.StopScanView.as_view()),
    path(f"{ARTIFACT}/scan/<str:report_id>/log", views.ReportLogView.as_view()),
    path(f"{ARTIFACT}/additions/vulnerabilities", views.VulnerabilitiesView.as_view()),
    path("system/scanAll/schedule", views.ScanAllScheduleView.as_view()),
    path("system/scanAll/stop", views.ScanAllStopView.as_view()),
    path("scans/all/metrics", views.ScanAllMetricsView.as_view()),
    path("scans/schedule/metrics", views.ScheduledScanAllMetricsView.as_view()),
    path("system/CVEAllowlist", views.SystemAllowlistView.as_view()),
    path("security/summary", views.SecuritySummaryView.as_view()),
    path("security/vul", views.SecurityVulView.as_view()),
    path("export/cve", views.ExportView.as_view()),
    path("export/cve/executions", views.ExportExecutionsView.as_view()),
    path("export/cve/execution/<int:execution_id>", views.ExportExecutionView.as_view()),
    path("export/cve/download/<int:execution_id>", views.ExportDownloadView.as_view()),
]
