"""Harbor's system-job API shape, shared by /system/gc and /system/purgeaudit:
history, one execution, stop, log, and the schedule (Manual runs now)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found
from harbor_py.core.pagination import HarborPagination
from harbor_py.core.query import Field, apply_query, apply_sort
from jobs import services
from jobs.models import Execution, Schedule

ParameterCheck = Callable[[dict[str, Any]], dict[str, Any]]
# What a history item shows as job_parameters (Harbor's GC adds its results there).
ParameterView = Callable[[Execution], dict[str, Any]]


def _parameters(execution: Execution) -> dict[str, Any]:
    return execution.parameters


def _schedule_obj(schedule: Schedule | None) -> dict[str, Any]:
    if schedule is None or schedule.type == "None":
        return {"type": "None"}
    return {"type": schedule.type, "cron": schedule.cron}


def history_item(
    execution: Execution,
    schedule: Schedule | None = None,
    parameters: ParameterView = _parameters,
) -> dict[str, Any]:
    return {
        "id": execution.pk,
        "job_name": execution.vendor_type,
        "job_kind": execution.trigger,
        "job_parameters": json.dumps(parameters(execution)),
        "schedule": {"type": "Manual"}
        if execution.trigger == "MANUAL"
        else _schedule_obj(schedule),
        "job_status": execution.status,
        "deleted": False,
        "creation_time": serializers.DateTimeField().to_representation(execution.start_time),
        "update_time": serializers.DateTimeField().to_representation(execution.update_time),
    }


class _SystemJobView(APIView):
    permission_classes = [IsSysadmin]
    vendor_type = ""
    check_parameters: ParameterCheck = staticmethod(lambda p: p)
    job_parameters: ParameterView = staticmethod(_parameters)

    def execution(self, job_id: int) -> Execution:
        found = Execution.objects.filter(pk=job_id, vendor_type=self.vendor_type).first()
        if found is None:
            raise not_found(f"{self.vendor_type} job {job_id} not found")
        return found


class HistoryView(_SystemJobView):
    def get(self, request: Request) -> Response:
        executions = apply_query(
            Execution.objects.filter(vendor_type=self.vendor_type),
            request.query_params.get("q"),
            {"job_status": Field("status", fuzzy=False), "job_kind": Field("trigger", fuzzy=False)},
        )
        executions = apply_sort(
            executions,
            request.query_params.get("sort"),
            {"creation_time": "start_time", "update_time": "update_time", "id": "pk"},
            default=["-start_time"],
        )
        paginator = HarborPagination()
        page = paginator.paginate_queryset(executions, request, self)
        schedule = Schedule.objects.filter(vendor_type=self.vendor_type).first()
        return paginator.get_paginated_response(
            [history_item(e, schedule, type(self).job_parameters) for e in page]
        )


class DetailView(_SystemJobView):
    def get(self, request: Request, job_id: int) -> Response:
        schedule = Schedule.objects.filter(vendor_type=self.vendor_type).first()
        return Response(history_item(self.execution(job_id), schedule, type(self).job_parameters))

    def put(self, request: Request, job_id: int) -> Response:
        services.request_stop(self.execution(job_id), actor=Actor.of_request(request))
        return Response(status=200)


class LogView(_SystemJobView):
    def get(self, request: Request, job_id: int) -> HttpResponse:
        execution = self.execution(job_id)
        text = "".join(task.log for task in execution.tasks.order_by("pk"))
        return HttpResponse(text, content_type="text/plain; charset=utf-8")


class ScheduleBody(serializers.Serializer):
    schedule = serializers.DictField()
    parameters = serializers.DictField(required=False, default=dict)


class ScheduleView(_SystemJobView):
    def get(self, request: Request) -> Response:
        schedule = Schedule.objects.filter(vendor_type=self.vendor_type).first()
        if schedule is None:
            return Response({"schedule": {"type": "None"}})
        return Response(
            {
                "id": schedule.pk,
                "job_name": self.vendor_type,
                "job_kind": "SCHEDULE",
                "job_parameters": json.dumps(schedule.parameters),
                "schedule": _schedule_obj(schedule),
                "deleted": False,
                "creation_time": serializers.DateTimeField().to_representation(
                    schedule.creation_time
                ),
                "update_time": serializers.DateTimeField().to_representation(schedule.update_time),
            }
        )

    def _apply(self, request: Request) -> Execution | None:
        body = ScheduleBody(data=request.data)
        body.is_valid(raise_exception=True)
        schedule, raw_parameters = (
            body.validated_data["schedule"],
            body.validated_data["parameters"],
        )
        parameters = type(self).check_parameters(raw_parameters)
        kind = schedule.get("type")
        if kind == "Manual":
            return services.start_execution(
                vendor_type=self.vendor_type,
                parameters=parameters,
                actor=Actor.of_request(request),
            )
        if not isinstance(kind, str) or kind not in services.SCHEDULE_TYPES:
            raise bad_request("schedule.type must be Manual, Hourly, Daily, Weekly, Custom or None")
        services.set_schedule(
            vendor_type=self.vendor_type,
            type_="Custom" if kind == "Schedule" else kind,
            cron=str(schedule.get("cron") or ""),
            parameters=parameters,
            actor=Actor.of_request(request),
        )
        return None

    def post(self, request: Request) -> Response:
        execution = self._apply(request)
        response = Response(status=201)
        if execution is not None:
            response["Location"] = f"{request.path.rsplit('/schedule', 1)[0]}/{execution.pk}"
        return response

    def put(self, request: Request) -> Response:
        self._apply(request)
        return Response(status=200)


def system_job_urls(
    prefix: str,
    vendor_type: str,
    check_parameters: ParameterCheck,
    operation_ids: dict[str, str],
    job_parameters: ParameterView = _parameters,
) -> list[URLPattern]:
    """Routes for one system job: operation_ids maps history, get, stop, log, getSchedule,
    createSchedule, updateSchedule onto Harbor's operationIds."""
    attrs = {
        "vendor_type": vendor_type,
        "check_parameters": staticmethod(check_parameters),
        "job_parameters": staticmethod(job_parameters),
    }
    ops = operation_ids

    def make(base: type[_SystemJobView], methods: dict[str, str]) -> Any:
        cls: type[APIView] = type(f"{vendor_type.title()}{base.__name__}", (base,), dict(attrs))
        for method, op_key in methods.items():
            setattr(
                cls,
                method,
                (
                    listing(ops[op_key])
                    if op_key == "history"
                    else extend_schema(operation_id=ops[op_key], responses={200: dict})
                )(_passthrough(base, method)),
            )
        return cls.as_view()

    return [
        path(f"{prefix}", make(HistoryView, {"get": "history"})),
        path(
            f"{prefix}/schedule",
            make(
                ScheduleView,
                {"get": "getSchedule", "post": "createSchedule", "put": "updateSchedule"},
            ),
        ),
        path(f"{prefix}/<int:job_id>", make(DetailView, {"get": "get", "put": "stop"})),
        path(f"{prefix}/<int:job_id>/log", make(LogView, {"get": "log"})),
    ]


def _passthrough(base: type, method: str) -> Callable[..., Any]:
    original = getattr(base, method)

    def handler(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        return original(self, request, *args, **kwargs)

    return handler
