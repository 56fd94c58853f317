"""Reads across projects: GET /search and GET /statistics, limited to what the caller sees."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import User
from accounts.robots import RobotUser
from projects.models import Project
from projects.selectors import AnyUser, member_project_ids, visible_projects, with_repo_count
from registry.models import Blob, Repository


def search_projects(user: AnyUser, keyword: str) -> QuerySet[Project]:
    """Harbor matches project names with a plain substring test."""
    projects = visible_projects(user).filter(name__contains=keyword)
    return with_repo_count(projects).order_by("name", "pk")


def search_repositories(user: AnyUser, keyword: str) -> QuerySet[Repository]:
    visible = visible_projects(user).values("pk")
    return (
        Repository.objects.filter(project__in=visible, name__icontains=keyword)
        .select_related("project")
        .annotate(artifact_count=Count("artifacts"))
        .order_by("name", "pk")
    )


def statistics(user: User | RobotUser) -> dict[str, int]:
    """Harbor's Statistic: public counts for everyone; private counts over the projects the
    caller is a member of; totals and storage for sysadmins only (0 for the others)."""
    projects = Project.objects.aggregate(
        public=Count("pk", filter=Q(public=True)), total=Count("pk")
    )
    repositories = Repository.objects.aggregate(
        public=Count("pk", filter=Q(project__public=True)), total=Count("pk")
    )
    result = {
        "public_project_count": projects["public"],
        "public_repo_count": repositories["public"],
        "total_project_count": 0,
        "total_repo_count": 0,
        "total_storage_consumption": 0,
    }
    if user.is_superuser:
        result.update(
            private_project_count=projects["total"] - projects["public"],
            private_repo_count=repositories["total"] - repositories["public"],
            total_project_count=projects["total"],
            total_repo_count=repositories["total"],
            total_storage_consumption=Blob.objects.aggregate(size=Sum("size"))["size"] or 0,
        )
        return result
    mine = Project.objects.filter(public=False, pk__in=member_project_ids(user))
    result.update(
        private_project_count=mine.count(),
        private_repo_count=Repository.objects.filter(project__in=mine).count(),
    )
    return result
