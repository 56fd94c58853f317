"""Writing several executions with one task each (jobs.services.start_executions): on
PostgreSQL in one statement, a data-modifying WITH that inserts the executions and, from
what it returns, their tasks, with the columns that all rows share as constants. An outbox
delivery writes one such batch per webhook event, so its cost is per event: one round trip
instead of two, and 5 parameters a row instead of 23 (psycopg parses a statement of more
than 50 parameters again on every call). Elsewhere (SQLite), one INSERT of each."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from harbor_py.core.db import insert
from jobs.models import Execution, Status, Task

_TOGETHER = (
    'WITH e AS (INSERT INTO "execution" (vendor_type, vendor_id, status, status_message, '
    "trigger, parameters, extra_attrs, stop_requested, single_active, start_time, end_time, "
    "update_time) SELECT v.vendor_type, v.vendor_id, v.status, '', %s, v.parameters::jsonb, "
    "v.extra_attrs::jsonb, false, false, %s, NULL, %s FROM (VALUES {rows}) AS "
    "v(vendor_type, vendor_id, status, parameters, extra_attrs) RETURNING id, status) "
    'INSERT INTO "task" (execution_id, status, status_message, run_count, extra_attrs, log, '
    "records, worker, heartbeat, creation_time, start_time, end_time, update_time) "
    "SELECT e.id, e.status, '', CASE WHEN e.status = %s THEN 1 ELSE 0 END, '{{}}'::jsonb, '', "
    "'', CASE WHEN e.status = %s THEN %s ELSE '' END, CASE WHEN e.status = %s THEN %s::timestamptz "
    "END, %s, CASE WHEN e.status = %s THEN %s::timestamptz END, NULL, %s FROM e "
    "RETURNING execution_id, id"
)
_ROW = "(%s, %s::bigint, %s, %s, %s)"


def insert_executions(
    executions: Sequence[Execution], tasks: Sequence[Task], *, now: dt.datetime, worker: str
) -> None:
    """INSERT the executions (all of one trigger, not single_active) and their tasks, one
    each, made as start_executions makes them: a task of a Running execution is claimed
    by `worker` at `now` (run 1), one of a Pending execution waits. Sets their pks."""
    if connection.vendor != "postgresql":
        insert(list(executions), returning_pk=True)
        for task, execution in zip(tasks, executions, strict=True):
            task.execution = execution  # its foreign key, now that the execution has a pk
        insert(list(tasks), returning_pk=True)
        return
    values: list[Any] = []
    for execution in executions:
        values += [
            execution.vendor_type,
            execution.vendor_id,
            execution.status,
            json.dumps(execution.parameters),
            json.dumps(execution.extra_attrs),
        ]
    running = Status.RUNNING
    shared: list[Any] = [running, running, worker, running, now, now, running, now, now]
    sql = _TOGETHER.format(rows=", ".join([_ROW] * len(executions)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [executions[0].trigger, now, now, *values, *shared])
        written = sorted(cursor.fetchall())
    # sequence values, given in the order of VALUES: the executions' ids sort as they came
    for execution, task, (execution_id, task_id) in zip(executions, tasks, written, strict=True):
        execution.pk, task.pk = execution_id, task_id
        task.execution = execution
        for row in (execution, task):
            row._state.adding, row._state.db = False, connection.alias
