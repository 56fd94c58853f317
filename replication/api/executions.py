"""/replication/executions: start, list, get, stop, tasks and task logs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import not_found
from harbor_py.core.pagination import HarborPagination
from harbor_py.core.query import apply_sort
from jobs import services as job_services
from jobs.models import Status
from replication import selectors, services
from replication.api import serializers as shapes

STATUS_FILTER: dict[str, list[str]] = {
    "InProgress": [Status.PENDING, Status.RUNNING],
    "Succeed": [Status.SUCCESS],
    "Failed": [Status.ERROR],
    "Stopped": [Status.STOPPED],
    "Skipped": [Status.SKIPPED],
}
TRIGGER_FILTER = {v: k for k, v in shapes.TRIGGER.items()}


def _statuses(raw: str) -> list[str]:
    return STATUS_FILTER.get(raw, [raw])


# The sort keys of executions and of tasks alike.
SORTABLE = {"start_time": "start_time", "end_time": "end_time", "id": "pk", "status": "status"}


def _sorted_page(
    view: APIView,
    request: Request,
    found: QuerySet[Any],
    shape: Callable[[Any], dict[str, Any]],
    *,
    default: str,
) -> Response:
    """One page of `found` (executions or tasks) in the order the `sort` parameter asks."""
    found = apply_sort(found, request.query_params.get("sort"), SORTABLE, default=[default])
    paginator = HarborPagination()
    page = paginator.paginate_queryset(found, request, view)
    return paginator.get_paginated_response([shape(row) for row in page])


class ExecutionsView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listReplicationExecutions")
    def get(self, request: Request) -> Response:
        params = request.query_params
        found = selectors.executions()
        if policy_id := params.get("policy_id"):
            found = found.filter(vendor_id=int(policy_id) if policy_id.isdigit() else -1)
        if status := params.get("status"):
            found = found.filter(status__in=_statuses(status))
        if trigger := params.get("trigger"):
            found = found.filter(trigger=TRIGGER_FILTER.get(trigger, trigger))
        return _sorted_page(self, request, found, shapes.execution, default="-start_time")

    @extend_schema(operation_id="startReplication", responses={201: None})
    def post(self, request: Request) -> Response:
        body = shapes.StartBody(data=request.data)
        body.is_valid(raise_exception=True)
        execution = services.start(
            policy=selectors.policy(body.validated_data["policy_id"]),
            actor=Actor.of_request(request),
        )
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/replication/executions/{execution.pk}"
        return response


class ExecutionView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getReplicationExecution", responses={200: dict})
    def get(self, request: Request, execution_id: int) -> Response:
        return Response(shapes.execution(selectors.execution(execution_id)))

    @extend_schema(operation_id="stopReplication", responses={200: None})
    def put(self, request: Request, execution_id: int) -> Response:
        job_services.request_stop(
            selectors.execution(execution_id), actor=Actor.of_request(request)
        )
        return Response(status=200)


class TasksView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listReplicationTasks")
    def get(self, request: Request, execution_id: int) -> Response:
        params = request.query_params
        found = selectors.tasks(selectors.execution(execution_id))
        if status := params.get("status"):
            found = found.filter(status__in=_statuses(status))
        if resource_type := params.get("resource_type"):
            found = found.filter(extra_attrs__resource_type=resource_type)
        return _sorted_page(self, request, found, shapes.task, default="pk")


class TaskLogView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getReplicationLog", responses={200: str})
    def get(self, request: Request, execution_id: int, task_id: int) -> HttpResponse:
        task = selectors.tasks(selectors.execution(execution_id)).filter(pk=task_id).first()
        if task is None:
            raise not_found(f"task {task_id} of execution {execution_id} not found")
        return HttpResponse(task.log, content_type="text/plain; charset=utf-8")
