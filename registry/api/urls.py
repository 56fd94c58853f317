from django.urls import path

from registry.api import artifacts, icons, labels, repositories

REPOSITORY = "projects/<str:project_name>/repositories/<str:repository_name>"
ARTIFACT = f"{REPOSITORY}/artifacts/<str:reference>"

urlpatterns = [
    path("repositories", repositories.AllRepositoriesView.as_view()),
    path("projects/<str:project_name>/repositories", repositories.RepositoriesView.as_view()),
    path(REPOSITORY, repositories.RepositoryView.as_view()),
    path(f"{REPOSITORY}/artifacts", artifacts.ArtifactsView.as_view()),
    path(ARTIFACT, artifacts.ArtifactView.as_view()),
    path(f"{ARTIFACT}/tags", artifacts.TagsView.as_view()),
    path(f"{ARTIFACT}/tags/<str:tag_name>", artifacts.TagView.as_view()),
    path(f"{ARTIFACT}/accessories", artifacts.AccessoriesView.as_view()),
    path(f"{ARTIFACT}/additions/<str:addition>", artifacts.AdditionView.as_view()),
    path(f"{ARTIFACT}/labels", artifacts.ArtifactLabelsView.as_view()),
    path(f"{ARTIFACT}/labels/<int:label_id>", artifacts.ArtifactLabelView.as_view()),
    path("projects/<str:project_name_or_id>/artifacts", artifacts.ProjectArtifactsView.as_view()),
    path("icons/<str:digest>", icons.IconView.as_view()),
    path("labels", labels.LabelsView.as_view()),
    path("labels/<int:label_id>", labels.LabelView.as_view()),
]
