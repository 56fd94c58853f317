"""/robots: Harbor's robot accounts (system and project level)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import robot_selectors, robot_services
from accounts.api.robot_serializers import (
    RobotCreatedSerializer,
    RobotCreateSerializer,
    RobotSecretSerializer,
    RobotSerializer,
)
from accounts.models import Robot
from accounts.robots import SYSTEM_NAMESPACE, RobotUser, caller_of
from harbor_py.api.params import require_authenticated
from harbor_py.core.actor import Actor
from harbor_py.core.errors import forbidden, not_found
from projects.models import Project


def _spec(request: Request) -> tuple[robot_services.RobotSpec, str]:
    body = RobotCreateSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = body.validated_data
    spec = robot_services.RobotSpec(
        name=data["name"],
        level=data["level"],
        description=data["description"],
        duration=data["duration"],
        disable=data["disable"],
        permissions=tuple(data["permissions"]),
    )
    return spec, data["secret"]


class RobotListView(GenericAPIView):
    serializer_class = RobotSerializer

    @extend_schema(operation_id="ListRobot", responses=RobotSerializer(many=True))
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        level, project_id, terms = robot_selectors.split_scope(request.query_params.get("q"))
        if project_id is not None:
            project = Project.objects.filter(pk=project_id).first()
            if project is None:
                raise not_found(f"project {project_id} not found")
            allowed = robot_services.holds(
                caller_of(request), "project", project.name, "robot", "list"
            )
        else:
            allowed = robot_services.holds(
                caller_of(request), "system", SYSTEM_NAMESPACE, "robot", "list"
            )
        if not allowed:
            raise forbidden("not allowed to list these robot accounts")
        robots = robot_selectors.list_robots(
            level=level, project_id=project_id, terms=terms, sort=request.query_params.get("sort")
        )
        page = self.paginate_queryset(robots)
        return self.get_paginated_response(RobotSerializer(page, many=True).data)

    @extend_schema(
        operation_id="CreateRobot",
        request=RobotCreateSerializer,
        responses={201: RobotCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        require_authenticated(request)
        spec, secret = _spec(request)
        robot, secret = robot_services.create_robot(
            caller=caller_of(request), actor=Actor.of_request(request), spec=spec, secret=secret
        )
        robot.secret = secret  # the plain secret, this once
        response = Response(RobotCreatedSerializer(robot).data, status=status.HTTP_201_CREATED)
        response["Location"] = f"/api/v2.0/robots/{robot.pk}"
        return response


class RobotDetailView(GenericAPIView):
    serializer_class = RobotSerializer

    def _robot(self, action: str) -> Robot:
        require_authenticated(self.request)
        robot_id = self.kwargs["robot_id"]
        robot = robot_selectors.find_robot(robot_id)
        if robot is None or not (
            robot_services.may_manage(caller_of(self.request), robot, "read")
            or robot_services.may_manage(caller_of(self.request), robot, action)
        ):
            raise not_found(f"robot {robot_id} not found")
        return robot

    @extend_schema(operation_id="GetRobotByID", responses=RobotSerializer)
    def get(self, request: Request, robot_id: int) -> Response:
        return Response(RobotSerializer(self._robot("read")).data)

    @extend_schema(operation_id="UpdateRobot", request=RobotCreateSerializer, responses={200: None})
    def put(self, request: Request, robot_id: int) -> Response:
        robot = self._robot("update")
        spec, _ = _spec(request)
        robot_services.update_robot(
            caller=caller_of(request), actor=Actor.of_request(request), robot=robot, spec=spec
        )
        return Response(status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="RefreshSec", request=RobotSecretSerializer, responses=RobotSecretSerializer
    )
    def patch(self, request: Request, robot_id: int) -> Response:
        require_authenticated(request)
        robot = robot_selectors.find_robot(robot_id)
        caller = caller_of(request)
        itself = isinstance(caller, RobotUser) and caller.robot.pk == robot_id
        if robot is None or not (itself or robot_services.may_manage(caller, robot, "read")):
            raise not_found(f"robot {robot_id} not found")
        body = RobotSecretSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        secret = robot_services.refresh_secret(
            caller=caller_of(request),
            actor=Actor.of_request(request),
            robot=robot,
            secret=body.validated_data["secret"],
        )
        return Response({"secret": secret})

    @extend_schema(operation_id="DeleteRobot", responses={200: None})
    def delete(self, request: Request, robot_id: int) -> Response:
        robot_services.delete_robot(
            caller=caller_of(request), actor=Actor.of_request(request), robot=self._robot("delete")
        )
        return Response(status=status.HTTP_200_OK)
