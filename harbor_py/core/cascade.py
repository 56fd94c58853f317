"""Deleting rows and what references them in set-based SQL: Django's `on_delete` without
its Collector.

`QuerySet.delete()` runs the Collector: it loads the rows, then every referencing row that
has references of its own or a SET_NULL (scan reports, index references), builds model
instances and issues a statement per relation, about a dozen statements and 10 ms of
Python for one artifact. Deleting artifacts is on the path of every delete (API, /v2, GC,
retention, fsck), and retention does thousands in a run while pushes share the CPU and
the project's quota row with it (docs/retention.md). Django 5.2 has no database-level
cascade (`db_on_delete` is not released), so this builds, once per model, the statements
the Collector would end up with, from the same model metadata: a DELETE per CASCADE
relation (its own cascades first, by subquery), an UPDATE per SET_NULL, each `WHERE
<column> IN (<the ids>)`. Any other `on_delete`, and delete signals, are refused when the
plan is built (the Collector would be needed for them).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from typing import cast

from django.db import connection, models
from django.db.models import signals
from django.db.models.deletion import (
    CASCADE,
    DO_NOTHING,
    SET_NULL,
    get_candidate_relations_to_delete,
)
from django.db.models.fields.reverse_related import ForeignObjectRel

IDS = "{ids}"  # where a statement takes the ids (or the subquery that selects them)


@dataclass(frozen=True)
class Statement:
    referencing: type[models.Model]  # the model whose rows reference the deleted ones
    sql: str  # with IDS once


def _quote(name: str | None) -> str:
    if not name:
        raise ValueError("a column without a name")
    return connection.ops.quote_name(name)


def _pk(model: type[models.Model]) -> str:
    pk = model._meta.pk
    if pk is None:
        raise ValueError(f"{model.__name__} has no primary key")
    return _quote(pk.column)


def _statements(model: type[models.Model], depth: int = 0) -> list[Statement]:
    """What deleting rows of `model` (ids in IDS) does to the rows that reference them,
    in an order the Collector would accept: updates first, then the deepest deletes."""
    if depth > 5:
        raise ValueError(f"cascade too deep at {model.__name__}")
    updates: list[Statement] = []
    deletes: list[Statement] = []
    for candidate in get_candidate_relations_to_delete(model._meta):
        relation = cast("ForeignObjectRel", candidate)
        related: type[models.Model] = relation.related_model
        column = _quote(relation.field.column)
        table = _quote(related._meta.db_table)
        on_delete = relation.field.remote_field.on_delete
        where = f"{column} IN ({IDS})"
        if on_delete is CASCADE:
            _check_signals(related)
            below = f"SELECT {_pk(related)} FROM {table} WHERE {where}"
            for inner in _statements(related, depth + 1):
                deletes.append(Statement(related, inner.sql.replace(IDS, below)))
            deletes.append(Statement(related, f"DELETE FROM {table} WHERE {where}"))
        elif on_delete is SET_NULL:
            updates.append(Statement(related, f"UPDATE {table} SET {column} = NULL WHERE {where}"))
        elif on_delete is not DO_NOTHING:
            raise ValueError(f"{related.__name__}.{relation.field.name}: {on_delete!r}")
    return updates + deletes


def _check_signals(model: type[models.Model]) -> None:
    if signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model):
        raise ValueError(f"{model.__name__} has delete signal receivers: use QuerySet.delete()")


@cache
def plan(model: type[models.Model], vendor: str) -> tuple[Statement, ...]:
    """The statements, the rows of `model` themselves last (`vendor`: the cache key of the
    quoting)."""
    _check_signals(model)
    own = Statement(
        model, f"DELETE FROM {_quote(model._meta.db_table)} WHERE {_pk(model)} IN ({IDS})"
    )
    return (*_statements(model), own)


def delete(
    model: type[models.Model],
    ids: Sequence[int],
    *,
    only: Collection[type[models.Model]] | None = None,
    but: Collection[type[models.Model]] = (),
) -> None:
    """Delete the rows of `model` with these primary keys and what references them as
    their `on_delete` says. `only` / `but` restrict it to (or leave out) the statements for
    the rows of these models (`model` itself names its own rows), so that a caller can
    take a lock between two parts; each part is correct whatever order the parts run in
    within one transaction, since foreign keys are checked at commit (Django creates
    them DEFERRABLE INITIALLY DEFERRED)."""
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        for statement in plan(model, connection.vendor):
            if statement.referencing in but or (
                only is not None and statement.referencing not in only
            ):
                continue
            cursor.execute(statement.sql.replace(IDS, marks), list(ids))
