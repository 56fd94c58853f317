"""The content-trust generation of a project (`Project.trust_generation`): a pull verdict
is cached under the generation it was computed at, so a bump retires every cached verdict
of the project at once, in one write.

Bumped in the transaction that changes the keys the project trusts (every project's, for
a system key), so that no pull that starts after the commit can use a verdict for the old
keys; and after the commit that deletes an artifact of the project (it may have been the
signature that allowed its subject). The pull path reads the generation with the project
row that it reads anyway: no query, no round trip."""

from __future__ import annotations

from django.db.models import F

from projects.models import Project


def bump(*, project_id: int | None) -> None:
    """The project's generation, or every project's (None: the system's keys changed)."""
    projects = Project.objects.all()
    if project_id is None:
        # every row locked in one order: two concurrent bumps of all cannot deadlock
        list(projects.select_for_update().order_by("pk").values_list("pk", flat=True))
    else:
        projects = projects.filter(pk=project_id)
    projects.update(trust_generation=F("trust_generation") + 1)


def bump_named(project_name: str) -> None:
    Project.objects.filter(name=project_name).update(trust_generation=F("trust_generation") + 1)
