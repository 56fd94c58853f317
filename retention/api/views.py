"""/retentions: Harbor's tag retention API (metadatas, policies, executions, tasks, logs)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.params import require_authenticated
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from harbor_py.core.pagination import HarborPagination
from jobs.models import Execution, Task
from projects.models import Project
from projects.selectors import require_access
from retention import rules, selectors, services
from retention.models import RetentionPolicy

RESOURCE = "tag-retention"


def _time(value: Any) -> str:
    return serializers.DateTimeField().to_representation(value) if value else ""


def policy_body(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "id": policy.pk,
        "algorithm": policy.algorithm,
        "rules": policy.rules,
        "trigger": policy.trigger
        or {"kind": "Schedule", "settings": {"cron": ""}, "references": {}},
        "scope": {"level": "project", "ref": policy.project_id},
    }


def execution_body(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.pk,
        "policy_id": execution.vendor_id,
        "start_time": _time(execution.start_time),
        "end_time": _time(execution.end_time),
        "status": execution.status,
        "trigger": execution.trigger,
        "dry_run": execution.parameters.get("dry_run") is True,
    }


def task_body(task: Task) -> dict[str, Any]:
    attrs = task.extra_attrs or {}
    return {
        "id": task.pk,
        "execution_id": task.execution_id,
        "repository": attrs.get("repository", ""),
        "job_id": str(task.pk),
        "status": task.status,
        "status_code": 0,
        "status_revision": task.run_count,
        "start_time": _time(task.start_time),
        "end_time": _time(task.end_time),
        "total": int(attrs.get("total", 0)),
        "retained": int(attrs.get("retained", 0)),
    }


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise bad_request("the body must be a JSON object")
    return request.data


def _policy(request: Request, policy_id: int, action: str) -> RetentionPolicy:
    """The policy, if the caller may do `action` on tag retention in its project; a policy
    of a project the caller may not see is reported as missing."""
    policy = selectors.find_policy(policy_id)
    if policy is None:
        raise not_found(f"retention policy {policy_id} not found")
    try:
        require_access(request.user, policy.project, str(policy.project_id), RESOURCE, action)
    except DomainError as exc:
        if exc.code == Code.NOT_FOUND:
            raise not_found(f"retention policy {policy_id} not found") from None
        raise
    return policy


class MetadatasView(APIView):
    @extend_schema(operation_id="getRentenitionMetadata", responses={200: dict})
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        return Response(rules.metadata())


class PoliciesView(APIView):
    @extend_schema(operation_id="createRetention", request=dict, responses={201: None})
    def post(self, request: Request) -> Response:
        require_authenticated(request)
        data = _body(request)
        scope = data.get("scope")
        ref = scope.get("ref") if isinstance(scope, dict) else None
        if not isinstance(ref, int) or isinstance(ref, bool):
            raise bad_request("scope.ref must be the id of a project")
        project = Project.objects.filter(pk=ref).first()
        require_access(request.user, project, str(ref), RESOURCE, "create")
        assert project is not None  # require_access refused a missing one
        policy = services.create_policy(project=project, data=data, actor=Actor.of_request(request))
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/retentions/{policy.pk}"
        return response


class PolicyView(APIView):
    @extend_schema(operation_id="getRetention", responses={200: dict})
    def get(self, request: Request, policy_id: int) -> Response:
        return Response(policy_body(_policy(request, policy_id, "read")))

    @extend_schema(operation_id="updateRetention", request=dict, responses={200: None})
    def put(self, request: Request, policy_id: int) -> Response:
        policy = _policy(request, policy_id, "update")
        data = _body(request)
        services.update_policy(policy=policy, data=data, actor=Actor.of_request(request))
        return Response(status=200)

    @extend_schema(operation_id="deleteRetention", responses={200: None})
    def delete(self, request: Request, policy_id: int) -> Response:
        policy = _policy(request, policy_id, "delete")
        services.delete_policy(policy=policy, actor=Actor.of_request(request))
        return Response(status=200)


class ExecutionsView(APIView):
    @extend_schema(operation_id="triggerRetentionExecution", request=dict, responses={201: None})
    def post(self, request: Request, policy_id: int) -> Response:
        policy = _policy(request, policy_id, "operate")
        dry_run = _body(request).get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise bad_request("dry_run must be true or false")
        execution = services.start(policy=policy, dry_run=dry_run, actor=Actor.of_request(request))
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/retentions/{policy.pk}/executions/{execution.pk}"
        return response

    @listing("listRetentionExecutions")
    def get(self, request: Request, policy_id: int) -> Response:
        policy = _policy(request, policy_id, "list")
        paginator = HarborPagination()
        page = paginator.paginate_queryset(selectors.executions(policy), request, self)
        return paginator.get_paginated_response([execution_body(e) for e in page])


def _execution(request: Request, policy_id: int, execution_id: int, action: str) -> Execution:
    policy = _policy(request, policy_id, action)
    execution = selectors.find_execution(policy, execution_id)
    if execution is None:
        raise not_found(f"retention execution {execution_id} not found")
    return execution


class ExecutionView(APIView):
    @extend_schema(operation_id="operateRetentionExecution", request=dict, responses={200: None})
    def patch(self, request: Request, policy_id: int, execution_id: int) -> Response:
        execution = _execution(request, policy_id, execution_id, "operate")
        if _body(request).get("action") != "stop":
            raise bad_request('only the action "stop" is supported')
        services.stop(execution=execution, actor=Actor.of_request(request))
        return Response(status=200)


class TasksView(APIView):
    @listing("listRetentionTasks")
    def get(self, request: Request, policy_id: int, execution_id: int) -> Response:
        execution = _execution(request, policy_id, execution_id, "list")
        paginator = HarborPagination()
        page = paginator.paginate_queryset(selectors.tasks(execution), request, self)
        return paginator.get_paginated_response([task_body(t) for t in page])


class TaskLogView(APIView):
    @extend_schema(operation_id="getRetentionTaskLog", responses={200: str})
    def get(
        self, request: Request, policy_id: int, execution_id: int, task_id: int
    ) -> HttpResponse:
        execution = _execution(request, policy_id, execution_id, "read")
        task = execution.tasks.filter(pk=task_id).first()
        if task is None:
            raise not_found(f"retention task {task_id} not found")
        return HttpResponse(task.log, content_type="text/plain; charset=utf-8")
