from django.urls import path

from retention.api import views

BASE = "retentions/<int:policy_id>"

urlpatterns = [
    path("retentions/metadatas", views.MetadatasView.as_view()),
    path("retentions", views.PoliciesView.as_view()),
    path(BASE, views.PolicyView.as_view()),
    path(f"{BASE}/executions", views.ExecutionsView.as_view()),
    path(f"{BASE}/executions/<int:execution_id>", views.ExecutionView.as_view()),
    path(f"{BASE}/executions/<int:execution_id>/tasks", views.TasksView.as_view()),
    path(f"{BASE}/executions/<int:execution_id>/tasks/<int:task_id>", views.TaskLogView.as_view()),
]
