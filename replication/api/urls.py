from django.urls import path

from replication.api import executions, policies, registries

EXECUTION = "replication/executions/<int:execution_id>"

urlpatterns = [
    path("registries", registries.RegistriesView.as_view()),
    path("registries/ping", registries.PingView.as_view()),
    path("registries/<int:registry_id>", registries.RegistryView.as_view()),
    path("registries/<int:registry_id>/info", registries.InfoView.as_view()),
    path("replication/adapters", registries.AdaptersView.as_view()),
    path("replication/adapterinfos", registries.AdapterInfosView.as_view()),
    path("replication/policies", policies.PoliciesView.as_view()),
    path("replication/policies/<int:policy_id>", policies.PolicyView.as_view()),
    path("replication/executions", executions.ExecutionsView.as_view()),
    path(EXECUTION, executions.ExecutionView.as_view()),
    path(f"{EXECUTION}/tasks", executions.TasksView.as_view()),
    path(f"{EXECUTION}/tasks/<int:task_id>/log", executions.TaskLogView.as_view()),
]
