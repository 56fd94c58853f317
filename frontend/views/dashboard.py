"""The start page: usage statistics (GET /statistics) and, for sysadmins, the running
jobs and the latest audit entries."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.robots import caller_of
from accounts.selectors import active_users
from audit import selectors as audit_selectors
from frontend.views.base import signed_in
from jobs.models import Execution, Status
from projects import overview
from projects.selectors import list_projects


@signed_in
def dashboard(request: HttpRequest) -> HttpResponse:
    user = caller_of(request)
    context: dict[str, object] = {
        "stats": overview.statistics(user),
        "recent_projects": list(list_projects(user, sort="-update_time")[:5]),
    }
    if user.is_superuser:
        context.update(
            user_count=active_users().count(),
            running=list(
                Execution.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).order_by(
                    "-start_time"
                )[:10]
            ),
            recent_entries=list(audit_selectors.visible_entries(user, q=None, sort=None)[:8]),
        )
    return render(request, "frontend/dashboard.html", context)
