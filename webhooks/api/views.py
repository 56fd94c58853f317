"""/projects/{project_name_or_id}/webhook/...: Harbor's webhook policies, their
executions, tasks and logs, the last-trigger view, the supported event types and the
deprecated job list. RBAC resource `notification-policy` (ProjectAdmin CRUDL, Maintainer
RL, as Harbor's roles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request
from harbor_py.core.pagination import HarborPagination
from harbor_py.core.query import apply_sort
from projects.scoped_view import ProjectScopedView
from webhooks import payloads, selectors, services
from webhooks.api import shapes
from webhooks.models import WebhookPolicy

RESOURCE = "notification-policy"
SORTABLE = {"start_time": "start_time", "end_time": "end_time", "id": "pk", "status": "status"}
POLICY_SORT = {"name": "name", "creation_time": "creation_time", "id": "pk"}


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise bad_request("the body must be a webhook policy object")
    return request.data


def _page(
    view: ProjectScopedView,
    request: Request,
    found: QuerySet[Any],
    shape: Callable[[Any], dict[str, Any]],
    sortable: dict[str, str],
    default: str,
) -> Response:
    found = apply_sort(found, request.query_params.get("sort"), sortable, default=[default])
    paginator = HarborPagination()
    page = paginator.paginate_queryset(found, request, view)
    return paginator.get_paginated_response([shape(row) for row in page])


class PoliciesView(ProjectScopedView):
    required = {"GET": (RESOURCE, "list"), "POST": (RESOURCE, "create")}

    @listing("ListWebhookPoliciesOfProject")
    def get(self, request: Request, project_name_or_id: str) -> Response:
        found = selectors.project_policies(self.project_access().project.pk)
        return _page(self, request, found, shapes.policy, POLICY_SORT, "-creation_time")

    @extend_schema(operation_id="CreateWebhookPolicyOfProject", request=dict, responses={201: None})
    def post(self, request: Request, project_name_or_id: str) -> Response:
        project = self.project_access().project
        created = services.create_policy(
            project=project, data=_body(request), actor=Actor.of_request(request)
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{project.pk}/webhook/policies/{created.pk}"
        return response


class PolicyView(ProjectScopedView):
    required = {
        "GET": (RESOURCE, "read"),
        "PUT": (RESOURCE, "update"),
        "DELETE": (RESOURCE, "delete"),
    }

    def _policy(self) -> WebhookPolicy:
        project = self.project_access().project
        return selectors.policy(project.pk, self.kwargs["webhook_policy_id"])

    @extend_schema(operation_id="GetWebhookPolicyOfProject", responses={200: dict})
    def get(self, request: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
        return Response(shapes.policy(self._policy()))

    @extend_schema(operation_id="UpdateWebhookPolicyOfProject", request=dict, responses={200: None})
    def put(self, request: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
        found = self._policy()
        services.update_policy(
            project=self.project_access().project,
            policy=found,
            data=_body(request),
            actor=Actor.of_request(request),
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="DeleteWebhookPolicyOfProject", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
        found = self._policy()
        services.delete_policy(
            project=self.project_access().project, policy=found, actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)


class _PolicyChild(ProjectScopedView):
    required = {"GET": (RESOURCE, "list")}

    def _policy(self) -> WebhookPolicy:
        return selectors.policy(self.project_access().project.pk, self.kwargs["webhook_policy_id"])


class ExecutionsView(_PolicyChild):
    @listing("ListExecutionsOfWebhookPolicy")
    def get(self, request: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
        found = selectors.executions(self._policy())
        if wanted := request.query_params.get("status"):
            found = found.filter(status=wanted)
        return _page(self, request, found, shapes.execution, SORTABLE, "-start_time")


class TasksView(_PolicyChild):
    @listing("ListTasksOfWebhookExecution")
    def get(
        self, request: Request, project_name_or_id: str, webhook_policy_id: int, execution_id: int
    ) -> Response:
        found = selectors.tasks(selectors.execution(self._policy(), execution_id))
        return _page(self, request, found, shapes.task, SORTABLE, "pk")


class TaskLogView(_PolicyChild):
    required = {"GET": (RESOURCE, "read")}

    @extend_schema(operation_id="GetLogsOfWebhookTask", responses={200: str})
    def get(
        self,
        request: Request,
        project_name_or_id: str,
        webhook_policy_id: int,
        execution_id: int,
        task_id: int,
    ) -> HttpResponse:
        found = selectors.task(selectors.execution(self._policy(), execution_id), task_id)
        return HttpResponse(found.log, content_type="text/plain; charset=utf-8")


class LastTriggerView(ProjectScopedView):
    required = {"GET": (RESOURCE, "read")}

    @listing("LastTrigger", paged=False)
    def get(self, request: Request, project_name_or_id: str) -> Response:
        rows = selectors.last_triggers(self.project_access().project.pk)
        return Response([shapes.last_trigger(row) for row in rows])


class JobsView(ProjectScopedView):
    required = {"GET": (RESOURCE, "list")}

    @listing("ListWebhookJobs")
    def get(self, request: Request, project_name_or_id: str) -> Response:
        raw = request.query_params.get("policy_id", "")
        if not raw.isascii() or not raw.isdigit() or int(raw) > 2**63 - 1:
            raise bad_request("policy_id is required: the id of a webhook policy")
        found = selectors.executions(selectors.policy(self.project_access().project.pk, int(raw)))
        if statuses := request.query_params.getlist("status"):
            found = found.filter(status__in=statuses)
        return _page(self, request, found, shapes.job, SORTABLE, "-start_time")


class EventTypesView(ProjectScopedView):
    required = {"GET": (RESOURCE, "read")}

    @extend_schema(operation_id="GetSupportedEventTypes", responses={200: dict})
    def get(self, request: Request, project_name_or_id: str) -> Response:
        self.project_access()
        return Response(
            {
                "event_type": list(payloads.EVENT_TYPES),
                "notify_type": list(payloads.NOTIFY_TYPES),
                "payload_formats": [
                    {"notify_type": kind, "formats": list(formats)}
                    for kind, formats in payloads.FORMATS.items()
                ],
            }
        )
