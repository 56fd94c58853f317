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

from frontend import job_log as job_log_words
from frontend.refusals import InWords
from frontend.views.base import attempt, is_htmx, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code
from jobs import queues, schedules, services
from jobs.models import FINAL, Task


def _workers() -> dict[str, Any]:
    """The worker pools and workers, from `celery inspect`: a broadcast that waits its
    time-out (jobs.queues.INSPECT_TIMEOUT) for the workers' answers."""
    try:
        pools = queues.pools()
        found = queues.workers("all") or []
    except Exception as exc:  # the broker or the workers are away: say so
        return {"pools": [], "workers": [], "unavailable": str(exc)}
    # a run of ours has a task id (its log and Stop); another Celery task its uuid
    workers = [{**w, "harbor_job": str(w["job_id"]).isdigit()} for w in found]
    return {"pools": pools, "workers": workers}


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
    items = [schedules.schedule_item(t) for t in schedules.periodic_tasks()]
    context["schedules"] = schedules.with_paused(items)
    context["schedules_paused"] = schedules.paused("all")
    return render(request, "frontend/jobservice.html", context)


@sysadmin_only
def workers(request: HttpRequest) -> HttpResponse:
    """The workers' section of the dashboard (its htmx fragment)."""
    if not is_htmx(request):
        return redirect(f"{reverse('ui:jobservice')}?workers=1")
    return render(request, "frontend/_jobservice_workers.html", _workers())


def _act(request: HttpRequest, job_type: str, action: str) -> None:
    """PUT /jobservice/queues/{job_type}'s service (it checks and audits the action)."""
    if attempt(
        request,
        services.act_on_queue,
        job_type=job_type,
        action=action,
        actor=Actor.of_request(request),
    ):
        done = {"pause": _("Paused."), "resume": _("Resumed."), "stop": _("Pending jobs stopped.")}
        which = _("Every job type") if job_type.lower() == "all" else job_type
        messages.success(request, f"{which}: {done[action.lower()]}")


@require_POST
@sysadmin_only
def queue_action(request: HttpRequest, job_type: str) -> HttpResponse:
    _act(request, job_type, request.POST.get("action", ""))
    return redirect("ui:jobservice")


@require_POST
@sysadmin_only
def schedule_action(request: HttpRequest, job_type: str) -> HttpResponse:
    """Pause or resume the scheduled runs of a job type (or of `all`, Harbor's "Pause
    all"): what GET /schedules/{job_type}/paused reads. A paused type's runs wait in its
    queue, scheduled or not, and start when it is resumed."""
    action = request.POST.get("action", "")
    if action.lower() not in ("pause", "resume"):
        raise InWords(Code.BAD_REQUEST, _("Choose Pause or Resume."))
    _act(request, job_type, action)
    return redirect(f"{reverse('ui:jobservice')}#job-schedules")


def _job(job_id: int) -> Task:
    task = Task.objects.select_related("execution").filter(pk=job_id).first()
    if task is None:
        raise InWords(Code.NOT_FOUND, _("This job does not exist."))
    return task


@require_POST
@sysadmin_only
def stop_job(request: HttpRequest, job_id: int) -> HttpResponse:
    task = _job(job_id)
    if attempt(request, services.stop_job, task=task, actor=Actor.of_request(request)):
        messages.success(request, _("Stop requested."))
    if request.POST.get("next") == "log":
        return redirect("ui:jobservice-log", job_id=job_id)
    return redirect("ui:jobservice")


@sysadmin_only
def job_log(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's log, as GET /jobservice/jobs/{id}/log serves it (in the page's language
    where the job keeps records, `frontend.job_log`), with its Stop while it runs."""
    task = _job(job_id)
    context = {
        "section": "jobservice",
        "task": task,
        "log": job_log_words.translated(task.log, task.records),
        "running": task.execution.status not in FINAL,
    }
    return render(request, "frontend/jobservice_log.html", context)
