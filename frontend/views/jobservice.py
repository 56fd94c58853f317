"""The job service dashboard (sysadmins): queues with pause, resume and stop per job type,
the worker pools and what each worker runs (stop), and the schedules; what /jobservice
and /schedules answer, from the same reads (jobs.queues, jobs.schedules)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend.refusals import InWords
from frontend.views.base import attempt, is_htmx, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code
from jobs import queues, schedules, services
from jobs.models import Task


def _workers() -> dict[str, Any]:
    """The worker pools and workers, from `celery inspect`: a broadcast that waits its
    time-out (jobs.queues.INSPECT_TIMEOUT) for the workers' answers."""
    try:
        return {"pools": queues.pools(), "workers": queues.workers("all") or []}
    except Exception as exc:  # the broker or the workers are away: say so
        return {"pools": [], "workers": [], "unavailable": str(exc)}


@sysadmin_only
def dashboard(request: HttpRequest) -> HttpResponse:
    """Queues and schedules at once; the workers are asked afterwards (htmx,
    `workers`), as asking them takes a second or more (#28: list pages answer within
    100 ms). Without script, ?workers=1 asks them in this request."""
    context: dict[str, Any] = {"section": "jobservice", "asked": "workers" in request.GET}
    try:
        context["queues"] = queues.queues()
    except Exception as exc:  # the broker is away: say so, show the rest
        context.update(queues=[], queues_unavailable=str(exc))
    if context["asked"]:
        context.update(_workers())
    context["schedules"] = [schedules.schedule_item(t) for t in schedules.periodic_tasks()]
    return render(request, "frontend/jobservice.html", context)


@sysadmin_only
def workers(request: HttpRequest) -> HttpResponse:
    """The workers' section of the dashboard (its htmx fragment)."""
    if not is_htmx(request):
        return redirect(f"{reverse('ui:jobservice')}?workers=1")
    return render(request, "frontend/_jobservice_workers.html", _workers())


@require_POST
@sysadmin_only
def queue_action(request: HttpRequest, job_type: str) -> HttpResponse:
    action = request.POST.get("action", "")
    if attempt(
        request,
        services.act_on_queue,
        job_type=job_type,
        action=action,
        actor=Actor.of_request(request),
    ):
        done = {"pause": _("Paused."), "resume": _("Resumed."), "stop": _("Pending jobs stopped.")}
        messages.success(request, f"{job_type}: {done[action]}")
    return redirect("ui:jobservice")


@require_POST
@sysadmin_only
def stop_job(request: HttpRequest, job_id: int) -> HttpResponse:
    task = Task.objects.select_related("execution").filter(pk=job_id).first()
    if task is None:
        raise InWords(Code.NOT_FOUND, _("This job does not exist."))
    if attempt(request, services.stop_job, task=task, actor=Actor.of_request(request)):
        messages.success(request, _("Stop requested."))
    return redirect("ui:jobservice")
