"""Harbor's job service dashboard (/jobservice: pools, workers, queues, jobs) and the
schedules list (/schedules), backed by the Celery workers and broker (jobs/queues.py)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found
from harbor_py.core.pagination import HarborPagination
from jobs import queues, schedules, services
from jobs.models import Task


def _task(job_id: str) -> Task:
    task = (
        Task.objects.select_related("execution").filter(pk=int(job_id)).first()
        if job_id.isascii() and job_id.isdigit()
        else None
    )
    if task is None:
        raise not_found(f"job {job_id} not found")
    return task


class PoolsView(APIView):
    permission_classes = [IsSysadmin]

    @listing("getWorkerPools", paged=False)
    def get(self, request: Request) -> Response:
        return Response(queues.pools())


class WorkersView(APIView):
    permission_classes = [IsSysadmin]

    @listing("getWorkers", paged=False)
    def get(self, request: Request, pool_id: str) -> Response:
        found = queues.workers(pool_id)
        if found is None:
            raise not_found(f"worker pool {pool_id} not found")
        return Response(found)


class JobView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="stopRunningJob", responses={200: None})
    def put(self, request: Request, job_id: str) -> Response:
        actor = Actor.of_request(request)
        if job_id.lower() == "all":  # Harbor's: every running job
            services.stop_running_jobs(actor=actor)
        else:
            services.stop_job(task=_task(job_id), actor=actor)
        return Response(status=200)


class JobLogView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="actionGetJobLog", responses={200: str})
    def get(self, request: Request, job_id: str) -> HttpResponse:
        return HttpResponse(_task(job_id).log, content_type="text/plain; charset=utf-8")


class QueuesView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listJobQueues", paged=False)
    def get(self, request: Request) -> Response:
        return Response(queues.queues())


class QueueView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="actionPendingJobs", request=dict, responses={200: None})
    def put(self, request: Request, job_type: str) -> Response:
        action = request.data.get("action") if isinstance(request.data, dict) else None
        if not isinstance(action, str):
            raise bad_request("action must be stop, pause or resume")
        services.act_on_queue(job_type=job_type, action=action, actor=Actor.of_request(request))
        return Response(status=200)


class SchedulesView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listSchedules")
    def get(self, request: Request) -> Response:
        paginator = HarborPagination()
        page = paginator.paginate_queryset(schedules.periodic_tasks(), request, self)
        return paginator.get_paginated_response([schedules.schedule_item(t) for t in page])


class SchedulePausedView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getSchedulePaused", responses={200: dict})
    def get(self, request: Request, job_type: str) -> Response:
        return Response({"paused": schedules.paused(job_type)})
