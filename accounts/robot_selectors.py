"""Reads about robot accounts: GET /robots with Harbor's q= (Level, ProjectID, name)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Robot
from accounts.robots import is_robot_name
from harbor_py.core.errors import bad_request
from harbor_py.core.query import Field, Term, apply_sort, apply_terms, as_int, parse_query

ROBOT_QUERY = {
    "name": Field("name"),
    "id": Field("pk", cast=as_int, fuzzy=False),
    "description": Field("description"),
}
ROBOT_SORT = {"name": "name", "id": "pk", "creation_time": "creation_time"}
# Harbor's UI writes these keys capitalised (q=Level=project,ProjectID=3).
_LEVEL_KEYS = {"Level", "level"}
_PROJECT_KEYS = {"ProjectID", "project_id"}


def split_scope(q: str | None) -> tuple[str | None, int | None, list[Term]]:
    """(level, project id, the other terms) of a robot list's q=."""
    level, project_id, rest = None, None, []
    for term in parse_query(q):
        if term.key in _LEVEL_KEYS | _PROJECT_KEYS:
            if term.kind != "exact":
                raise bad_request(f"{term.key} takes one exact value")
            if term.key in _LEVEL_KEYS:
                level = term.values[0]
            else:
                project_id = as_int(term.values[0])
        else:
            rest.append(term)
    return level, project_id, rest


def list_robots(
    *, level: str | None, project_id: int | None, terms: list[Term], sort: str | None
) -> QuerySet[Robot]:
    robots = Robot.objects.select_related("project")
    if project_id is not None:
        robots = robots.filter(project_id=project_id)
    if level:
        robots = robots.filter(level=level)
    return apply_sort(apply_terms(robots, terms, ROBOT_QUERY), sort, ROBOT_SORT, default=["name"])


def find_robot(robot_id: int) -> Robot | None:
    return Robot.objects.select_related("project").filter(pk=robot_id).first()


def robot_id_named(name: str) -> int | None:
    """The id of the robot account a token subject names; None for a user's name (no query
    then) or a robot deleted since. The /v2 gate's Actor carries it (Actor.robot_id)."""
    if not is_robot_name(name):
        return None
    return Robot.objects.filter(name=name).values_list("pk", flat=True).first()
