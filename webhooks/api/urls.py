from django.urls import path

from webhooks.api import views

BASE = "projects/<str:project_name_or_id>/webhook"
POLICY = f"{BASE}/policies/<int:webhook_policy_id>"
EXECUTION = f"{POLICY}/executions/<int:execution_id>"

urlpatterns = [
    path(f"{BASE}/policies", views.PoliciesView.as_view()),
    path(POLICY, views.PolicyView.as_view()),
    path(f"{POLICY}/executions", views.ExecutionsView.as_view()),
    path(f"{EXECUTION}/tasks", views.TasksView.as_view()),
    path(f"{EXECUTION}/tasks/<int:task_id>/log", views.TaskLogView.as_view()),
    path(f"{BASE}/lasttrigger", views.LastTriggerView.as_view()),
    path(f"{BASE}/jobs", views.JobsView.as_view()),
    path(f"{BASE}/events", views.EventTypesView.as_view()),
]
