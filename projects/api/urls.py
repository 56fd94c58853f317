from django.urls import path

from projects.api import views

urlpatterns = [
    path("projects", views.ProjectListView.as_view()),
    path("projects/<str:project_name_or_id>", views.ProjectDetailView.as_view()),
    path("projects/<str:project_name_or_id>/members", views.ProjectMemberListView.as_view()),
]
