from django.urls import path

from signatures.api import views

PROJECT_KEYS = "projects/<str:project_name_or_id>/trusted-keys"
ARTIFACT = (
    "projects/<str:project_name>/repositories/<str:repository_name>/artifacts/<str:reference>"
)

urlpatterns = [
    path(PROJECT_KEYS, views.ProjectKeysView.as_view()),
    path(f"{PROJECT_KEYS}/<int:key_id>", views.ProjectKeyView.as_view()),
    path("system/trusted-keys", views.SystemKeysView.as_view()),
    path("system/trusted-keys/<int:key_id>", views.SystemKeyView.as_view()),
    path(f"{ARTIFACT}/signatures", views.ArtifactSignaturesView.as_view()),
]
