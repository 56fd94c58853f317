"""/projects/{project_name_or_id}/immutabletagrules: Harbor's tag immutability rules."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, not_found
from immutable import selectors, services
from immutable.api.serializers import ImmutableRuleSerializer
from immutable.models import ImmutableRule
from projects.models import Project
from projects.scoped_view import ProjectScopedView


def _body(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise bad_request("the body must be an immutability rule object")
    return request.data


class ImmutableRuleListView(ProjectScopedView):
    serializer_class = ImmutableRuleSerializer
    required = {"GET": ("immutable-tag", "list"), "POST": ("immutable-tag", "create")}

    @extend_schema(operation_id="ListImmuRules", responses=ImmutableRuleSerializer(many=True))
    def get(self, request: Request, project_name_or_id: str) -> Response:
        rules = selectors.project_rules(self.project_access().project.pk)
        page = self.paginate_queryset(rules)
        return self.get_paginated_response(ImmutableRuleSerializer(page, many=True).data)

    @extend_schema(
        operation_id="CreateImmuRule", request=ImmutableRuleSerializer, responses={201: None}
    )
    def post(self, request: Request, project_name_or_id: str) -> Response:
        project = self.project_access().project
        rule = services.create_rule(
            project=project, data=_body(request), actor=Actor.of_request(request)
        )
        response = Response(status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/projects/{project.pk}/immutabletagrules/{rule.pk}"
        return response


class ImmutableRuleDetailView(ProjectScopedView):
    serializer_class = ImmutableRuleSerializer
    required = {"PUT": ("immutable-tag", "update"), "DELETE": ("immutable-tag", "delete")}

    def _rule(self) -> tuple[ImmutableRule, Project]:
        project = self.project_access().project
        rule = selectors.find_rule(project.pk, self.kwargs["immutable_rule_id"])
        if rule is None:
            raise not_found(f"immutable rule {self.kwargs['immutable_rule_id']} not found")
        return rule, project

    @extend_schema(
        operation_id="UpdateImmuRule", request=ImmutableRuleSerializer, responses={200: None}
    )
    def put(self, request: Request, project_name_or_id: str, immutable_rule_id: int) -> Response:
        rule, project = self._rule()
        services.update_rule(
            project=project, rule=rule, data=_body(request), actor=Actor.of_request(request)
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(operation_id="DeleteImmuRule", responses={200: None})
    def delete(self, request: Request, project_name_or_id: str, immutable_rule_id: int) -> Response:
        rule, project = self._rule()
        services.delete_rule(project=project, rule=rule, actor=Actor.of_request(request))
        return Response(status=status.HTTP_200_OK)
