from django.urls import path, re_path

from projects.api import member_views, overview_views, views
from projects.api import metadata_views as metadata

PROJECT = "projects/<str:project_name_or_id>"

urlpatterns = [
    path("projects", views.ProjectListView.as_view()),
    path(PROJECT, views.ProjectDetailView.as_view()),
    path(f"{PROJECT}/_deletable", views.ProjectDeletableView.as_view()),
    path(f"{PROJECT}/summary", views.ProjectSummaryView.as_view()),
    path(f"{PROJECT}/members", member_views.ProjectMemberListView.as_view()),
    path(f"{PROJECT}/members/<int:mid>", member_views.ProjectMemberDetailView.as_view()),
    # Harbor's path ends with a slash; accept it without one too (no redirect for POST).
    re_path(
        r"^projects/(?P<project_name_or_id>[^/]+)/metadatas/?$",
        metadata.ProjectMetadataListView.as_view(),
    ),
    path(f"{PROJECT}/metadatas/<str:meta_name>", metadata.ProjectMetadataDetailView.as_view()),
    path("search", overview_views.SearchView.as_view()),
    path("statistics", overview_views.StatisticView.as_view()),
    path("permissions", overview_views.PermissionsView.as_view()),
]
