"""Harbor's label group: global labels (scope "g", sysadmins manage them, everyone reads
them) and project labels (scope "p", the project's "label" permission)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from harbor_py.core.query import as_int
from projects.models import Project
from registry import label_services, queries
from registry.api.base import require
from registry.api.serializers import LabelRequestSerializer, LabelSerializer
from registry.models import Label


def _require_label_access(request: Request, label: Label, action: str) -> None:
    if label.scope == Label.Scope.PROJECT:
        require(request, label.project, str(label.project_id), "label", action)
        return
    if action == "read":
        return
    if not request.user.is_authenticated:
        raise DomainError(Code.UNAUTHORIZED, "authentication required")
    if not request.user.is_superuser:
        raise DomainError(Code.FORBIDDEN, "only system administrators may manage global labels")


def _project_param(raw: object) -> Project | None:
    project_id = as_int(str(raw)) if raw not in (None, "") else 0
    if project_id <= 0:
        raise bad_request("must with project ID when to query project labels")
    return Project.objects.filter(pk=project_id).first()


class LabelsView(GenericAPIView):
    serializer_class = LabelSerializer

    @extend_schema(operation_id="ListLabels", responses=LabelSerializer(many=True))
    def get(self, request: Request) -> Response:
        params = request.query_params
        scope = params.get("scope", "")
        if scope not in Label.Scope.values:
            raise bad_request(f"invalid scope: {scope}")
        labels: QuerySet[Label] = Label.objects.filter(scope=scope)
        if scope == Label.Scope.PROJECT:
            key = params.get("project_id", "")
            project = _project_param(key)
            require(request, project, key, "label", "list")
            labels = labels.filter(project=project)
        if name := params.get("name"):
            labels = labels.filter(name__icontains=name)
        labels = queries.apply(labels, params.get("q"), params.get("sort"), queries.LABELS)
        page = self.paginate_queryset(labels)
        return self.get_paginated_response(LabelSerializer(page, many=True).data)

    @extend_schema(
        operation_id="CreateLabel", request=LabelRequestSerializer, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        body = LabelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project = None
        if data["scope"] == Label.Scope.PROJECT:
            project = _project_param(data["project_id"])
            require(request, project, str(data["project_id"]), "label", "create")
        elif data["scope"] == Label.Scope.GLOBAL:
            _require_label_access(request, Label(scope=Label.Scope.GLOBAL), "create")
        label = label_services.create_label(
            name=data["name"],
            scope=data["scope"],
            project=project,
            description=data["description"],
            color=data["color"],
            actor=Actor.of_request(request),
        )
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/labels/{label.pk}"
        return response


class LabelView(GenericAPIView):
    serializer_class = LabelSerializer

    def label(self, action: str) -> Label:
        label = Label.objects.select_related("project").filter(pk=self.kwargs["label_id"]).first()
        if label is None:
            raise not_found(f"label {self.kwargs['label_id']} not found")
        try:
            _require_label_access(self.request, label, action)
        except DomainError as exc:
            if exc.code == Code.NOT_FOUND:  # a label of a project the caller may not see
                raise not_found(f"label {label.pk} not found") from None
            raise
        return label

    @extend_schema(operation_id="GetLabelByID", responses=LabelSerializer)
    def get(self, request: Request, label_id: int) -> Response:
        return Response(LabelSerializer(self.label("read")).data)

    @extend_schema(
        operation_id="UpdateLabel", request=LabelRequestSerializer, responses={200: None}
    )
    def put(self, request: Request, label_id: int) -> Response:
        label = self.label("update")
        body = LabelRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        label_services.update_label(
            label=label,
            name=data["name"],
            description=data["description"],
            color=data["color"],
            actor=Actor.of_request(request),
        )
        return Response(status=200)

    @extend_schema(operation_id="DeleteLabel", responses={200: None})
    def delete(self, request: Request, label_id: int) -> Response:
        label_services.delete_label(
            label=self.label("delete"),
            actor=Actor.of_request(request),
        )
        return Response(status=200)
