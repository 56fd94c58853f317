"""Robot accounts: a project's robots tab and the system robots page (sysadmins). The
same checks as /robots: `robot_services.holds` decides who lists, creates and manages,
and what they may grant; the services refuse the rest. A secret is shown once, in the
page the create or refresh POST redirects to (`frontend.secret_once`), and stored nowhere
else but as its hash."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypedDict
from urllib.parse import quote, urlencode

from django.contrib import messages
from django.core.paginator import Page
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import robot_selectors, robot_services
from accounts.models import Robot
from accounts.robot_services import RobotSpec
from accounts.robots import SYSTEM_NAMESPACE, Caller, caller_of
from frontend import secret_once
from frontend.control_forms import Policy, RobotForm, SystemRobotForm
from frontend.forms import refusal_text, refuse
from frontend.refusals import InWords
from frontend.views.base import attempt, error_page, page_of, signed_in, sysadmin_only
from frontend.views.projects import confirm, render_tab
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from projects.permissions import PROJECT_ROBOT_POLICIES, SYSTEM_ROBOT_POLICIES, served
from projects.selectors import ProjectAccess, require_access_by_name


class _Acting(TypedDict):
    caller: Caller
    actor: Actor


def _acting(request: HttpRequest) -> _Acting:
    """Who asks (the services check its permissions) and who the audit log names."""
    return {"caller": caller_of(request), "actor": Actor.of_request(request)}


def _grantable(
    request: HttpRequest, kind: str, namespace: str, policies: list[Policy]
) -> list[Policy]:
    """The permissions the caller holds, so may give a robot (the service checks again),
    without those of features this server does not have."""
    return robot_services.held(caller_of(request), kind, namespace, served(policies))


def _expiry(timestamp: int) -> dt.datetime:
    """Rows written before durations were bounded may lie past year 9999."""
    try:
        return dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def _with_status(page: Page) -> Page:
    """Each robot of the page gets `expires` (a datetime, None for never) and `expired`."""
    now = time.time()
    for robot in page.object_list:
        never = robot.expires_at == -1
        robot.expires = None if never else _expiry(robot.expires_at)
        robot.expired = not never and robot.expires_at <= now
    return page


def _secret_page(request: HttpRequest, robot: Robot, secret: str, back: str) -> HttpResponse:
    """Post/redirect/get: the secret goes to a page that shows it once, so a reload sends
    no form again (`frontend.secret_once`)."""
    key = secret_once.keep(user_id=request.user.pk, robot_id=robot.pk, secret=secret, back=back)
    return redirect(f"{reverse('ui:robot-secret-once')}?{urlencode({'key': key})}")


@signed_in
def secret_shown(request: HttpRequest) -> HttpResponse:
    shown = secret_once.take(user_id=request.user.pk, key=request.GET.get("key", ""))
    robot = robot_selectors.find_robot(shown.robot_id) if shown is not None else None
    if shown is None or robot is None:
        return error_page(
            request,
            410,
            _("This secret has been shown already. If it was lost, refresh the robot's secret."),
        )
    context = {"robot": robot, "secret": shown.secret, "back": shown.back}
    response = render(request, "frontend/robot_secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _spec_with(robot: Robot, *, disable: bool) -> RobotSpec:
    """PUT /robots/{id} with everything as it is but `disable`."""
    return RobotSpec(
        name=robot.name,
        level=robot.level,
        description=robot.description,
        duration=robot.duration,
        disable=disable,
        permissions=tuple(robot.permissions),
    )


def _toggle(request: HttpRequest, robot: Robot) -> None:
    disable = not robot.disabled
    if attempt(
        request,
        robot_services.update_robot,
        **_acting(request),
        robot=robot,
        spec=_spec_with(robot, disable=disable),
    ):
        done = _("Robot %(name)s disabled.") if disable else _("Robot %(name)s enabled.")
        messages.success(request, done % {"name": robot.name})


def _refresh(request: HttpRequest, robot: Robot, back: str) -> HttpResponse:
    if request.method != "POST":
        return confirm(
            request,
            _("Refresh the secret of %(name)s?") % {"name": robot.name},
            cancel=back,
            detail=_("The current secret stops working at once; the new one is shown once."),
            action=_("Yes, refresh"),
        )
    try:
        secret = robot_services.refresh_secret(**_acting(request), robot=robot)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect(back)
    return _secret_page(request, robot, secret, back)


def _delete(request: HttpRequest, robot: Robot, back: str) -> HttpResponse:
    if request.method != "POST":
        return confirm(
            request,
            _("Delete robot account %(name)s?") % {"name": robot.name},
            cancel=back,
            detail=_("Clients that use its secret are refused from now on."),
        )
    if attempt(request, robot_services.delete_robot, **_acting(request), robot=robot):
        messages.success(request, _("Robot %(name)s deleted.") % {"name": robot.name})
    return redirect(back)


def _edit(
    request: HttpRequest, robot: Robot, form: RobotForm, spec: Callable[[], RobotSpec], back: str
) -> HttpResponse | None:
    """PUT /robots/{id} from the form (disabled or not, as it is); None shows the form."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        robot_services.update_robot(
            **_acting(request),
            robot=robot,
            spec=replace(spec(), disable=robot.disabled),
        )
    except DomainError as exc:
        refuse(form, exc)
        return None
    messages.success(request, _("Robot %(name)s saved.") % {"name": robot.name})
    return redirect(back)


# A project's robots tab.


def _project_robots_url(name: str) -> str:
    return reverse("ui:project-robots", kwargs={"name": name})


def _project_robot(
    request: HttpRequest, name: str, robot_id: int, action: str
) -> tuple[ProjectAccess, Robot]:
    access = require_access_by_name(request.user, name, "robot", action)
    robot = robot_selectors.find_robot(robot_id)
    if robot is None or robot.project_id != access.project.pk:
        raise InWords(Code.NOT_FOUND, _("This robot account does not exist."))
    return access, robot


@signed_in
def project_robots(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "robot", "list")
    project = access.project
    grantable = _grantable(request, "project", project.name, PROJECT_ROBOT_POLICIES)
    form = RobotForm(request.POST or None, grantable=grantable)
    if request.method == "POST":
        access = require_access_by_name(request.user, name, "robot", "create")
        if form.is_valid():
            try:
                robot, secret = robot_services.create_robot(
                    **_acting(request),
                    spec=form.spec(project.name),
                )
            except DomainError as exc:
                refuse(form, exc)
            else:
                return _secret_page(request, robot, secret, _project_robots_url(name))
    robots = robot_selectors.list_robots(
        level=Robot.Level.PROJECT, project_id=project.pk, terms=[], sort=None
    )
    return render_tab(
        request,
        access,
        "robots",
        "frontend/robots.html",
        status=400 if form.errors else 200,
        page=_with_status(page_of(request, robots)),
        form=form,
    )


@require_POST
@signed_in
def project_robot_toggle(request: HttpRequest, name: str, robot_id: int) -> HttpResponse:
    _toggle(request, _project_robot(request, name, robot_id, "update")[1])
    return redirect(_project_robots_url(name))


@signed_in
def project_robot_edit(request: HttpRequest, name: str, robot_id: int) -> HttpResponse:
    access, robot = _project_robot(request, name, robot_id, "update")
    grantable = _grantable(request, "project", access.project.name, PROJECT_ROBOT_POLICIES)
    form = RobotForm(request.POST or None, grantable=grantable, editing=robot)
    saved = _edit(
        request, robot, form, lambda: form.spec(access.project.name), _project_robots_url(name)
    )
    if saved is not None:
        return saved
    status = 400 if form.errors else 200
    return render_tab(
        request, access, "robots", "frontend/robot_edit.html", status=status, robot=robot, form=form
    )


@signed_in
def project_robot_secret(request: HttpRequest, name: str, robot_id: int) -> HttpResponse:
    _access, robot = _project_robot(request, name, robot_id, "update")
    return _refresh(request, robot, _project_robots_url(name))


@signed_in
def project_robot_delete(request: HttpRequest, name: str, robot_id: int) -> HttpResponse:
    _access, robot = _project_robot(request, name, robot_id, "delete")
    return _delete(request, robot, _project_robots_url(name))


# System robots (sysadmins, as /robots without a project).

SYSTEM_ROBOTS_URL = "/admin/robots"


def _system_robot(robot_id: int) -> Robot:
    robot = robot_selectors.find_robot(robot_id)
    if robot is None or robot.level != Robot.Level.SYSTEM:
        raise InWords(Code.NOT_FOUND, _("This robot account does not exist."))
    return robot


def _system_form(request: HttpRequest, editing: Robot | None = None) -> SystemRobotForm:
    return SystemRobotForm(
        request.POST or None,
        system=_grantable(request, "system", SYSTEM_NAMESPACE, SYSTEM_ROBOT_POLICIES),
        project=served(PROJECT_ROBOT_POLICIES),
        editing=editing,
    )


@sysadmin_only
def system_robots(request: HttpRequest) -> HttpResponse:
    form = _system_form(request)
    if request.method == "POST" and form.is_valid():
        try:
            robot, secret = robot_services.create_robot(**_acting(request), spec=form.system_spec())
        except DomainError as exc:
            refuse(form, exc)
        else:
            return _secret_page(request, robot, secret, SYSTEM_ROBOTS_URL)
    search = request.GET.get("q", "").strip()
    terms = robot_selectors.split_scope(f"name=~{quote(search, safe='')}" if search else None)[2]
    robots = robot_selectors.list_robots(
        level=Robot.Level.SYSTEM, project_id=None, terms=terms, sort=None
    )
    context = {
        "section": "robots",
        "page": _with_status(page_of(request, robots)),
        "form": form,
        "q": search,
    }
    return render(
        request, "frontend/system_robots.html", context, status=400 if form.errors else 200
    )


@require_POST
@sysadmin_only
def system_robot_toggle(request: HttpRequest, robot_id: int) -> HttpResponse:
    _toggle(request, _system_robot(robot_id))
    return redirect(SYSTEM_ROBOTS_URL)


@sysadmin_only
def system_robot_edit(request: HttpRequest, robot_id: int) -> HttpResponse:
    robot = _system_robot(robot_id)
    form = _system_form(request, editing=robot)
    saved = _edit(request, robot, form, form.system_spec, SYSTEM_ROBOTS_URL)
    if saved is not None:
        return saved
    context = {"section": "robots", "robot": robot, "form": form}
    status = 400 if form.errors else 200
    return render(request, "frontend/system_robot_edit.html", context, status=status)


@sysadmin_only
def system_robot_secret(request: HttpRequest, robot_id: int) -> HttpResponse:
    return _refresh(request, _system_robot(robot_id), SYSTEM_ROBOTS_URL)


@sysadmin_only
def system_robot_delete(request: HttpRequest, robot_id: int) -> HttpResponse:
    return _delete(request, _system_robot(robot_id), SYSTEM_ROBOTS_URL)
