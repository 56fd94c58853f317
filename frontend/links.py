"""URLs of repository and artifact pages (a repository name holds slashes)."""

from __future__ import annotations

from django.urls import reverse

from registry.models import Artifact, Repository


def repository_url(repository: Repository) -> str:
    project, path = repository.name.split("/", 1)
    return reverse("ui:repository", kwargs={"name": project, "path": path})


def artifact_url(artifact: Artifact, reference: str = "") -> str:
    project, path = artifact.repository.name.split("/", 1)
    kwargs = {"name": project, "path": path, "reference": reference or artifact.digest}
    return reverse("ui:artifact", kwargs=kwargs)
