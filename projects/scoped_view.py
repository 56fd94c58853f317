"""The base of every app's project-scoped REST endpoints: resolve {project_name_or_id} and
check the caller's access with projects.selectors.require_access (the rule the UI uses too).
Apps' `api` packages do not import each other, so the shared base lives here."""

from __future__ import annotations

from rest_framework.generics import GenericAPIView

from harbor_py.api.params import is_resource_name
from projects.selectors import ProjectAccess, find_project, require_access


class ProjectScopedView(GenericAPIView):
    """Subclasses name the (resource, action) each HTTP method needs."""

    required: dict[str, tuple[str, str]] = {}

    def project_access(self) -> ProjectAccess:
        key = self.kwargs["project_name_or_id"]
        project = find_project(key, is_name=is_resource_name(self.request))
        method = self.request.method or "GET"
        resource, action = self.required["GET" if method == "HEAD" else method]
        return require_access(self.request.user, project, key, resource, action)
