"""Writes about labels. Each runs in one transaction with its audit record."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from audit.services import record
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict
from projects.models import Project
from registry.models import Label

MAX_NAME = 128
# The web UI puts the colour into a style attribute: a colour, never other CSS.
COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def is_color(value: str) -> bool:
    return bool(COLOR.match(value))


def _validate_color(color: str) -> None:
    if color and not is_color(color):
        raise bad_request(
            f"label color {color!r} is not a #RGB or #RRGGBB colour", key="label.color_invalid"
        )


def _validate_name(name: str) -> None:
    if not name:
        raise bad_request("label name is empty", key="label.name_empty")
    if len(name) > MAX_NAME:
        raise bad_request(
            f"label name is too long (> {MAX_NAME})",
            key="label.name_too_long",
            params={"max": MAX_NAME},
        )


def _taken(label: Label) -> bool:
    same = Label.objects.filter(name=label.name, scope=label.scope, project=label.project)
    return same.exclude(pk=label.pk).exists()


def _save(label: Label) -> None:
    if _taken(label):
        raise conflict(
            f"label {label.name} already exists",
            key="label.name_taken",
            params={"name": label.name},
        )
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError:
        raise conflict(
            f"label {label.name} already exists",
            key="label.name_taken",
            params={"name": label.name},
        ) from None


def _audit(label: Label, operation: str, actor: Actor) -> None:
    project = label.project
    record(
        actor=actor,
        operation=operation,
        resource_type="label",
        resource=label.name,
        project_id=project.pk if project else None,
        project_name=project.name if project else "",
    )


@transaction.atomic
def create_label(
    *,
    name: str,
    scope: str,
    project: Project | None,
    description: str = "",
    color: str = "",
    actor: Actor,
) -> Label:
    _validate_name(name)
    _validate_color(color)
    if scope not in Label.Scope.values:
        raise bad_request(f"unrecognized scope {scope!r}")
    label = Label(
        name=name,
        scope=scope,
        project=project if scope == Label.Scope.PROJECT else None,
        description=description,
        color=color,
    )
    _save(label)
    _audit(label, "create", actor)
    return label


@transaction.atomic
def update_label(
    *,
    label: Label,
    name: str,
    description: str,
    color: str,
    actor: Actor,
) -> Label:
    """Name, description and color change; scope and project never do (as in Harbor)."""
    _validate_name(name)
    _validate_color(color)
    label.name, label.description, label.color = name, description, color
    _save(label)
    _audit(label, "update", actor)
    return label


@transaction.atomic
def delete_label(*, label: Label, actor: Actor) -> None:
    """Removes it from every artifact too (the label_reference rows cascade)."""
    _audit(label, "delete", actor)
    label.delete()
