"""The job service dashboard (sysadmins): queues with pause, resume and stop per job type,
the worker pools and what each worker runs (stop), and the schedules; what /jobservice
and /schedules answer, from the same reads (jobs.queues, jobs.schedules)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from frontend.refusals import InWords
from frontend.views.base import attempt, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code
from jobs import queues, schedules, services
from jobs.models import Task


@sysadmin_only
def dashboard(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"section": "jobservice", "unavailable": ""}
    try:
        context.update(
            queues=queues.queues(), pools=queues.pools(), workers=queues.workers("all") or []
        )
    except Exception as exc:  # the broker or the workers are away: say so, show the rest
        context.update(queues=[], pools=[], workers=[], unavailable=str(exc))
    context["schedules"] = [schedules.schedule_item(t) for t in schedules.periodic_tasks()]
    return render(request, "frontend/jobservice.html", context)


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
