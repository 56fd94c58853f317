"""Reading and inserting model rows without compiling an ORM query.

Compiling a QuerySet costs about 0.35 ms of CPU in Python for even a one-row lookup, against
about 0.06 ms for the same SELECT on a cursor (measured here on PostgreSQL); an INSERT
through `save()` or `bulk_create()` costs 0.4-1 ms. The token service and the manifest push
make several such statements per image, so the statements on that path use `fetch_one`,
`fetch_all` and `insert`; everything else uses the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin

M = TypeVar("M", bound=models.Model)
IGNORE_CONFLICTS = "ON CONFLICT DO NOTHING"  # for insert(): bulk_create(ignore_conflicts=True)


@cache
def _plan(model: type[models.Model], vendor: str) -> tuple[str, list[str], list[tuple]]:
    """The SELECT, the attribute names, and the value converters the ORM would apply (JSON
    columns, SQLite's dates, ...) as (position, column, converters) where there are any.
    `vendor` is only part of the cache key: the converters depend on the database."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[arg-type]  # concrete fields have a column
    select = f"SELECT {columns} FROM {quote(model._meta.db_table)}"
    conversions = []
    for position, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            conversions.append((position, column, converters))
    return select, [f.attname for f in fields], conversions


def fetch_one(model: type[M], where: str, params: Sequence[Any]) -> M | None:
    """The first row of `model` matching the SQL condition `where` (placeholders `%s`),
    or None. Meant for unique keys: no ordering is applied."""
    rows = _fetch(model, f"{where} LIMIT 1", params)
    return rows[0] if rows else None


def fetch_all(model: type[M], where: str, params: Sequence[Any]) -> list[M]:
    """Every row of `model` matching `where`, in no particular order."""
    return _fetch(model, where, params)


def delete_returning(model: type[M], where: str, params: Sequence[Any]) -> list[M]:
    """DELETE the rows of `model` matching `where` in one statement: the rows deleted."""
    select, _, _ = _plan(model, connection.vendor)
    columns = select.removeprefix("SELECT ").split(" FROM ", 1)[0]
    table = connection.ops.quote_name(model._meta.db_table)
    return _rows(model, f"DELETE FROM {table} WHERE {where} RETURNING {columns}", params)


def _fetch(model: type[M], where: str, params: Sequence[Any]) -> list[M]:
    select, _, _ = _plan(model, connection.vendor)
    return _rows(model, f"{select} WHERE {where}", params)


def _rows(model: type[M], sql: str, params: Sequence[Any]) -> list[M]:
    _, attnames, conversions = _plan(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        rows = cursor.fetchall()
    instances = []
    for row in rows:
        values = list(row)
        for position, column, converters in conversions:
            for converter in converters:
                values[position] = converter(values[position], column, connection)
        instances.append(model.from_db(connection.alias, attnames, values))
    return instances


@lru_cache(maxsize=256)
def _insert_sql(
    model: type[models.Model], rows: int, suffix: str, vendor: str, when: str = ""
) -> tuple[str, list[models.Field]]:
    """The INSERT for `rows` rows (one row `when` a condition holds); `vendor` is only part
    of the cache key (see _plan)."""
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[arg-type]  # concrete fields have a column
    row = ", ".join(["%s"] * len(fields))
    values = f"SELECT {row} WHERE {when}" if when else ", ".join([f"({row})"] * rows)
    if not when:
        values = f"VALUES {values}"
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {values} {suffix}", fields


def insert(
    objs: Sequence[models.Model],
    *,
    on_conflict: str = "",
    returning_pk: bool = False,
    when: tuple[str, Sequence[object]] | None = None,
) -> int:
    """INSERT the instances (of one model) in one statement, their values prepared as
    `save()` prepares them (auto_now, JSON, ...); no signals are sent. Returns how many
    rows were written. `on_conflict` is the clause after VALUES, e.g. IGNORE_CONFLICTS or
    "ON CONFLICT (a, b) DO UPDATE SET c = EXCLUDED.c" (PostgreSQL and SQLite read the same
    syntax). `returning_pk` sets the primary key of each written instance; with a clause
    that may skip rows, only for a single instance (left without a pk when skipped).
    `when`: an SQL condition and its parameters; a single instance is written only if it
    holds (`INSERT ... SELECT ... WHERE`), e.g. its parent row exists, pinned."""
    if not objs:
        return 0
    if ((returning_pk and on_conflict) or when) and len(objs) > 1:
        raise ValueError("returning_pk with a conflict clause, or `when`, takes one instance")
    model = type(objs[0])
    pk = model._meta.pk
    quoted_pk = connection.ops.quote_name(pk.column)  # type: ignore[arg-type]  # a primary key has a column
    suffix = f"{on_conflict} RETURNING {quoted_pk}" if returning_pk else on_conflict
    condition, condition_params = when or ("", ())
    sql, fields = _insert_sql(model, len(objs), suffix, connection.vendor, condition)
    params = [value for obj in objs for value in _prepared(obj, fields)]
    params += condition_params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if not returning_pk:
            return cursor.rowcount
        rows = cursor.fetchall()
    for obj, (value,) in zip(objs, rows, strict=not (on_conflict or when)):
        _written(obj, value)
    return len(rows)


def _written(obj: models.Model, pk_value: Any) -> None:
    """`obj` as the database wrote it: its primary key set, no longer to be added."""
    setattr(obj, obj._meta.pk.attname, pk_value)
    obj._state.adding = False
    obj._state.db = connection.alias


def _prepared(obj: models.Model, fields: Sequence[models.Field]) -> list[Any]:
    return [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]


def insert_with_child(parent: models.Model, child: models.Model) -> bool:
    """INSERT `parent` unless it conflicts (IGNORE_CONFLICTS) and, when it was written,
    `child`, whose foreign key to it the database fills in: one statement on PostgreSQL (a
    data-modifying WITH), two elsewhere. Whether `parent` was written (its pk set then)."""
    if connection.vendor != "postgresql":
        if not insert([parent], on_conflict=IGNORE_CONFLICTS, returning_pk=True):
            return False
        link = next(f for f in type(child)._meta.concrete_fields if f.related_model is type(parent))
        setattr(child, link.attname, parent.pk)  # the child was made before the parent's pk
        insert([child], on_conflict=IGNORE_CONFLICTS)
        return True
    parent_model, pk = type(parent), type(parent)._meta.pk
    quote = connection.ops.quote_name
    parent_sql, parent_fields = _insert_sql(
        parent_model,
        1,
        f"{IGNORE_CONFLICTS} RETURNING {quote(pk.column)}",  # type: ignore[arg-type]  # a primary key has a column
        connection.vendor,
    )
    fields = [f for f in type(child)._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    link = next(f for f in fields if f.related_model is parent_model)
    columns = ", ".join(quote(f.column) for f in fields)  # type: ignore[arg-type]  # concrete fields have a column
    values = ", ".join(f"parent.{quote(pk.column)}" if f is link else "%s" for f in fields)  # type: ignore[arg-type]  # likewise
    sql = (
        f"WITH parent AS ({parent_sql}), child AS (INSERT INTO {quote(type(child)._meta.db_table)} "
        f"({columns}) SELECT {values} FROM parent {IGNORE_CONFLICTS}) "
        f"SELECT {quote(pk.column)} FROM parent"  # type: ignore[arg-type]  # likewise
    )
    params = _prepared(parent, parent_fields) + _prepared(
        child, [f for f in fields if f is not link]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    _written(parent, row[0])
    setattr(child, link.attname, row[0])
    return True


def found_or_inserted(
    select: str, params: Sequence[Any], obj: models.Model, when: tuple[str, Sequence[object]]
) -> tuple[tuple[Any, ...] | None, bool]:
    """The row that `select` finds (at most one, its first column never NULL), else `obj`
    inserted (IGNORE_CONFLICTS, only if `when` holds): (the row, False), (None, True) with
    `obj`'s pk set, or (None, False) when neither. One statement on PostgreSQL (a
    data-modifying WITH whose INSERT runs only when the SELECT found nothing), two elsewhere."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(select, list(params))
            row = cursor.fetchone()
        if row is not None:
            return tuple(row), False
        return None, bool(insert([obj], on_conflict=IGNORE_CONFLICTS, returning_pk=True, when=when))
    model, pk = type(obj), type(obj)._meta.pk
    column = connection.ops.quote_name(pk.column)  # type: ignore[arg-type]  # a primary key has a column
    condition, condition_params = when
    insert_sql, fields = _insert_sql(
        model,
        1,
        f"{IGNORE_CONFLICTS} RETURNING {column}",
        connection.vendor,
        f"NOT EXISTS (SELECT 1 FROM found) AND {condition}",
    )
    sql = (
        f"WITH found AS ({select}), made AS ({insert_sql}) "
        f"SELECT made.{column}, found.* FROM (SELECT 1) AS one "
        "LEFT JOIN found ON true LEFT JOIN made ON true"
    )
    values: list[Any] = [*params, *_prepared(obj, fields), *condition_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        made, *row = cursor.fetchone()
    if row[0] is not None:
        return tuple(row), False
    if made is None:
        return None, False
    _written(obj, made)
    return None, True


def then_insert(
    sql: str, params: Sequence[Any], objs: Sequence[models.Model], on_conflict: str = ""
) -> tuple[Any, ...] | None:
    """`sql` (its first row returned), and then `objs` inserted, in one statement on
    PostgreSQL (a data-modifying WITH: `sql` does not see the new rows, as if it had run
    first), two elsewhere."""
    if not objs or connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            row = cursor.fetchone()
        insert(objs, on_conflict=on_conflict)
        return None if row is None else tuple(row)
    insert_sql, fields = _insert_sql(type(objs[0]), len(objs), on_conflict, connection.vendor)
    rows = [value for obj in objs for value in _prepared(obj, fields)]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH written AS ({insert_sql}) {sql}", [*rows, *params])
        row = cursor.fetchone()
    return None if row is None else tuple(row)
